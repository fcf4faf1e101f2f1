"""Regularizers (config group `regularizer`), one module each.

`config` holds the schema (torch-free), `regularization.Regularization` what the chosen options
do to a run, `hooks` how a model lets them into its hidden layers.
"""
