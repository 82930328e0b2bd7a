"""The model families behind one protocol (:mod:`.protocol`): transformers through TransformerLens (:mod:`.transformer`), the
byte/subword mLSTM (the package :mod:`.mlstm`: module, tokenizers, adapter, trainer, converters, sampling), and the zoo (:mod:`.zoo`)."""
