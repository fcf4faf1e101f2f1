"""`seeds=N`: N replicas of one configuration (seeds seed, seed+1, ...) in one Lightning Trainer.

Entry point: `reglab.app.replicas.train_replicas` (in the composition root). This package's
`__init__` imports nothing: the sweep report reads replica folders (`reglab.replicas.folders`)
without loading torch.

  checks    what cannot be per replica yet: a ConfigError naming the key, before training
  stack     N networks initialised as N single runs would be, stacked for torch.func.vmap
  batches   per-replica data order: replica k sees the batches a single run with seed=k sees
  module    the replicas as one LightningModule (driven by Lightning's Trainer): one
            optimizer step for all replicas, per-replica metrics, best weights, early
            stopping and divergence
  networks  the replicas as reglab's instruments read networks (reglab.callbacks.networks)
  folders   each replica's job folder (metrics.json, metrics.csv, checkpoints, .hydra)
"""
