"""An API function's cold start without Python's cyclic garbage collector.

Importing this module pauses the collector; the handler module that imported it calls
`imported()` as its last statement, which freezes every object made so far and resumes it.
The API function's cold import makes about 130,000 long-lived objects (modules, classes,
pydantic validators, routes) and the collector would scan them all at least once on the way
(a full collection, about 12 ms of the import), for nothing: none of them is garbage. Frozen
(`gc.freeze`), they are not scanned by later collections either, so the scan does not move
to the first request.

Only the API handler modules import it, first among the engine's modules (its name sorts
first). If such an import fails, the function's initialisation fails with it.
"""

import gc

gc.disable()


def imported() -> None:
    """The handler module is imported: keep what it made out of the collector's way, resume it."""
    gc.freeze()
    gc.enable()
