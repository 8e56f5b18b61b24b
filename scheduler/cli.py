"""`flask --app wsgi create-admin EMAIL`: the only way to make an admin."""

import click
from flask import current_app

from .auth import hash_password
from .db import transaction
from .repositories import users


def register_commands(app):
    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--name", default="Administrator", help="Name for a new account.")
    @click.password_option(help="Password for a new account (prompted when needed).",
                           prompt_required=False)
    def create_admin(email, name, password):
        """Promotes EMAIL to admin, or creates it as an admin."""
        with transaction() as cur:
            user = users.find_by_email(cur, email)
            if user is not None:
                users.set_role(cur, user["id"], "admin")
                click.echo(f"{user['email']} is now an admin")
                return
            if not password:
                password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
            if len(password) < 6:
                raise click.BadParameter("must be at least 6 characters", param_hint="password")
            rounds = current_app.config["SETTINGS"].bcrypt_rounds
            users.insert(cur, name=name, email=email, password_hash=hash_password(password, rounds), role="admin")
            click.echo(f"created admin {email}")
