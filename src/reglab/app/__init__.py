"""The composition root: a run's settings (the whole schema), the checks that need the task or
the machine, resume, what Hydra knows of a job, building the run's parts, training,
evaluation and the command lines. Nothing below this package imports from it.
"""
