"""The regularizers, one module each (the protocol: reglab.regularizers.protocol).

`REGULARIZERS` is every `Regularizer` subclass defined in a module of this package, in their
declared order: adding a module here (and its option in configs/regularizer/) adds a
regularizer; nothing else lists them. Torch-free, as the protocol.
"""

import importlib
import pkgutil

from reglab.regularizers.protocol import Regularizer


def _discover() -> tuple[type[Regularizer], ...]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found += [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, Regularizer)
            and obj.__module__ == module.__name__
        ]
    return tuple(sorted(found, key=lambda r: (r.order, r.switch)))


REGULARIZERS = _discover()
