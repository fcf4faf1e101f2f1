"""`hydra/launcher=stacked`: a multirun's compatible jobs train together as stacked replicas
(reglab.app.pack), the others one after another as Hydra's basic launcher runs them."""
