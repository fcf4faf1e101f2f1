"""What every worker of `hydra/launcher=stacked hydra.launcher.n_jobs=k` imports before its
first unit (torch, Lightning: seconds), imported once by the fork server the workers are
forked from (reglab.app.worker_pool.WorkerPool's `preload`)."""

import logging

# A job imports Lightning once Hydra has configured logging; Lightning imported where the
# root logger has no handler adds a console handler of its own and stops propagating, so its
# lines ("`Trainer.fit` stopped: ...") would miss each job's train.log. (A worker's
# configure_log replaces this handler.)
logging.getLogger().addHandler(logging.NullHandler())

import hydra_plugins.reglab_stacked_launcher.stacked_launcher  # noqa: E402, F401
import reglab.app.pack  # noqa: E402, F401
