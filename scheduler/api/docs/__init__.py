"""The API's description of itself: the OpenAPI document, and an interactive reference page
(Swagger UI from the swagger-ui-bundle-v2 package, served by this service: no CDN, it works
offline) whose "Try it out" calls this same server."""

from flask import Blueprint, current_app, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from ...errors import NotFound
from ...openapi import describe, page, spec

bp = Blueprint("docs", __name__, static_folder="static", static_url_path="/docs/static", template_folder="templates")

SWAGGER_UI_FILES = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}
# Everything the page loads and calls is this server's own.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


@bp.get("/api/v1/openapi.json")
@describe(responses={200: dict})
def openapi_document():
    """This API's OpenAPI 3.1 description.

    Generated from the routes and the models that validate their input and describe their
    output; the interactive reference at `/docs` reads it."""
    return spec(current_app)


@bp.get("/docs")
@page
def reference():
    return render_template("api_reference.html"), 200, {"Content-Security-Policy": PAGE_POLICY}


@bp.get("/docs/swagger-ui/<name>")
@page
def swagger_ui(name):
    if name not in SWAGGER_UI_FILES:
        raise NotFound("Not found")
    return send_from_directory(swagger_ui_path, name)
