"""Models (config group `model`): plain `nn.Module`s named by `_target_`.

`config` holds the schemas (torch-free), `build.build_model` builds any of them; `mlp`, `lenet`
and `linear` are the built-in networks.
"""
