"""The experiments: each a thin recipe over the shared vocabulary and the engine. No experiment imports another."""
