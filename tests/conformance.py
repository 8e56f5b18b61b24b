"""Every response the tests' client gets is checked against the API's own OpenAPI description:
its status is one the operation lists, its media type the one documented for that status,
and a JSON body is valid against the documented schema. So the whole suite keeps the
description honest, not only the fuzz test."""

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from werkzeug.exceptions import HTTPException

from scheduler.openapi import build, path_of


class ConformingClient(FlaskClient):
    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        problem = description_of(self.application).nonconformity(response.request.method, response.request.path,
                                                                  response)
        assert problem is None, problem
        return response


class Description:
    """One app's OpenAPI document, with the body validators compiled as they are needed."""

    def __init__(self, app):
        self.url_map = app.url_map
        self.document = build(app, skip_undescribed=True)
        self.validators = {}

    def nonconformity(self, method, path, response):
        """What is wrong with the response by the description, or None (also for requests
        that match no described operation: unknown routes or methods, pages)."""
        try:
            rule, _ = self.url_map.bind("localhost").match(path, method, return_rule=True)
        except HTTPException:
            return None
        template, method = path_of(rule), method.lower()
        operation = self.document["paths"].get(template, {}).get(method)
        if operation is None:
            return None
        status = str(response.status_code)
        where = f"{method.upper()} {path} -> {status}"
        documented = operation["responses"].get(status)
        if documented is None:
            return f"{where}: not a status the description lists ({', '.join(operation['responses'])}): {response.data[:300]!r}"
        content = documented.get("content")
        if content is None:
            return None
        if response.mimetype not in content:
            return f"{where}: {response.mimetype} is not the documented {', '.join(content)}"
        if response.mimetype != "application/json":
            return None
        errors = list(self.validator(template, method, status).iter_errors(response.json))
        if errors:
            return f"{where}: body does not match the description: " + "; ".join(
                f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}" for e in errors[:5])
        return None

    def validator(self, template, method, status):
        key = (template, method, status)
        if key not in self.validators:
            schema = self.document["paths"][template][method]["responses"][status]["content"]["application/json"]["schema"]
            self.validators[key] = Draft202012Validator({**schema, "components": self.document["components"]},
                                                        format_checker=Draft202012Validator.FORMAT_CHECKER)
        return self.validators[key]


# Each test makes a new app, but with the same routes: one description per set of routes.
descriptions = {}


def description_of(app):
    routes = tuple(sorted((rule.rule, rule.endpoint, tuple(sorted(rule.methods))) for rule in app.url_map.iter_rules()))
    if routes not in descriptions:
        descriptions[routes] = Description(app)
    return descriptions[routes]
