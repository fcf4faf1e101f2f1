"""The LightningModule that trains any `nn.Module`, and the tasks (loss + metrics) it supports."""

from reglab.lit.module import RegLabModule
from reglab.lit.tasks import Classification, Regression, Task, task_for

__all__ = ["Classification", "RegLabModule", "Regression", "Task", "task_for"]
