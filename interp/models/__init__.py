"""The model families behind one protocol (:mod:`.protocol`): transformers through TransformerLens (:mod:`.transformer`), the
byte/subword mLSTM (:mod:`.mlstm`, adapter :mod:`.recurrent`, trainer :mod:`.train_mlstm`), and the zoo (:mod:`.zoo`)."""
