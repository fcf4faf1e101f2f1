"""Regularizers (config group `regularizer`), one module each in `kinds/`.

`protocol` says what a regularizer may add to a run; `kinds` finds them; `config` composes
their settings into the `regularizer` schema (torch-free); `regularization.Regularization`
composes what the chosen ones do to a run; `hooks` is how a model lets them into its hidden
layers. The other modules are the torch parts they use (dropout and noise layers, DropConnect,
augmentation, schedules).
"""
