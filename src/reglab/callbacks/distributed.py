"""Ends a DDP rank's process group together with the other ranks.

With `ddp_spawn` on CPU (gloo), a rank that exits while another still has gloo's threads
running occasionally dies of "terminate called without an active exception" (SIGABRT, seen
about once in eight 2-process runs), which fails the run after its work is done. A barrier and
an explicit destroy_process_group at teardown make the ranks leave in step.
"""

import lightning as L
import torch.distributed as dist


class ProcessGroupTeardown(L.Callback):
    def teardown(self, trainer, pl_module, stage: str) -> None:
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
