"""The API docs in a real browser with the network cut off: /docs and /redoc render from the files
installed with the package (they loaded Swagger UI and ReDoc from a CDN and were blank offline)."""

import pytest

from tests.ui_support import browser, serve  # noqa: F401 - browser is a fixture

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(fake_settings, make_fake_app, tmp_path_factory):
    with serve(make_fake_app(fake_settings.model_copy(update={"db_path": tmp_path_factory.mktemp("docs") / "h.db"}))) as base:
        yield base


def _offline_page(browser, server):
    """A page that can reach the service and nothing else; returns it with the scripts, styles and fonts it
    was refused (ReDoc's sidebar also links Redocly's logo image on their CDN: harmless, not counted)."""
    page = browser.new_page()
    refused: list[str] = []

    def only_the_service(route):
        if route.request.url.startswith(server):
            return route.continue_()
        if route.request.resource_type != "image":
            refused.append(route.request.url)
        return route.abort()

    page.route("**/*", only_the_service)
    return page, refused


def test_swagger_ui_renders_with_the_network_blocked(browser, server):
    page, refused = _offline_page(browser, server)
    page.goto(f"{server}/docs")
    page.get_by_text("/v1/suggest").first.wait_for(timeout=15_000)
    assert page.locator(".opblock").count() > 10
    assert refused == []
    page.close()


def test_redoc_renders_with_the_network_blocked(browser, server):
    page, refused = _offline_page(browser, server)
    page.goto(f"{server}/redoc")
    page.get_by_text("/v1/suggest").first.wait_for(timeout=15_000)
    assert refused == []
    page.close()
