"""Data sets (config group `dataset`), named by `_target_`.

`config` holds the schemas (torch-free), `build.build_datamodule` builds any of them; the
built-in ones are LightningDataModules over in-memory tensors (`base.InMemoryDataModule`).
"""
