"""Other apps add demo data (channels, quick replies, FAQ ...) by registering here."""

from collections.abc import Callable

_extensions: list[Callable] = []


def register(fn: Callable) -> Callable:
    _extensions.append(fn)
    return fn


def run_extensions(*, tenant, branches) -> None:
    for fn in _extensions:
        fn(tenant=tenant, branches=branches)
