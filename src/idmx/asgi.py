"""The ASGI application object that granian workers import."""

from idmx.app import create_app
from idmx.settings import Settings

app = create_app(Settings.from_env())
