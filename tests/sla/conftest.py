"""Browser fixtures for the SLA workbench tests (shared with tests/workbench)."""

import pytest

from tests.support.live import live_server_url  # noqa: F401  (fixture)
from tests.workbench.browser import browser  # noqa: F401  (fixture)
from tests.workbench.conftest import Factory, pytest_runtest_makereport  # noqa: F401  (page logs on failure)


@pytest.fixture
def fa(org_a):
    return Factory(org_a)
