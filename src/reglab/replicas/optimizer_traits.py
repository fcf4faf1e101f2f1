"""What an optimizer lets differ between stacked replicas (torch-free: the stacked launcher
packs a sweep's jobs before torch is imported).

One optimizer steps the stacked tensors of a pack (reglab.replicas.module), with the group
options of its first replica; a replica's own learning rate and weight decay are applied
around that step (reglab.replicas.hyper):

- weight decay: added to each replica's gradient as `wd_k * w` before the step (what the
  coupled optimizers do inside theirs), or, decoupled (AdamW), `w *= 1 - lr_k * wd_k` first
  (AdamW's own order);
- learning rate: the step's move of each replica's elements is scaled by lr_k / lr_0, exact
  where the step moves an element by lr times a quantity that does not depend on lr.
  Adagrad (its lr_decay), Rprop (lr only seeds its step sizes) and ASGD (lr enters its
  averaging) are not such optimizers; neither is SGD's momentum or Adam's betas a rate of
  this kind, so those stay equal within a pack.
"""

from reglab.replicas.checks import ELEMENTWISE_OPTIMIZERS

LR_PROPORTIONAL = {
    f"torch.optim.{name}"
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam")
}
WITH_WEIGHT_DECAY = ELEMENTWISE_OPTIMIZERS - {"torch.optim.Rprop"}


def per_replica_keys(target: str) -> tuple[str, ...]:
    """The optimizer's keys (optimizer.<key>) that may differ within a pack."""
    keys = ()
    if target in LR_PROPORTIONAL:
        keys += ("lr",)
    if target in WITH_WEIGHT_DECAY:
        keys += ("weight_decay",)
    return keys
