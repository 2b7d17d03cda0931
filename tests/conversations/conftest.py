from tests.routing.conftest import Dispatch, _forget_dispatch_settings, dispatch  # noqa: F401
