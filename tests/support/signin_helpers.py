"""Sign-in files and signed-in people for the role tests (AppTest and the real-provider tests)."""

from __future__ import annotations

from pathlib import Path

COOKIE_SECRET = "cookie-secret-that-must-never-be-shown-0123456789"
CLIENT_SECRET = "client-secret-that-must-never-be-shown-9876543210"

ROLES = """
[roles]
admin = ["ada@admin.test", "kate@admin.test"]
approver = ["april@example.test"]
operator = ["group:onloop-ops"]
viewer = ["@example.test"]
"""

# One claim set per role (and one with none), as the provider's ID token gives them.
PEOPLE = {
    "admin": {"email": "ada@admin.test", "sub": "sub-ada"},
    "approver": {"email": "april@example.test", "sub": "sub-april"},
    "operator": {"email": "otto@ops.test", "sub": "sub-otto", "groups": ["onloop-ops"]},
    "viewer": {"email": "vic@example.test", "sub": "sub-vic"},
    None: {"email": "nobody@elsewhere.test", "sub": "sub-nobody"},
}


def write_signin_file(
    folder: Path, *, issuer: str = "http://127.0.0.1:9/", port: int = 8501
) -> Path:
    path = folder / "signin.toml"
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "onloop-dashboard"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{issuer.rstrip("/")}/.well-known/openid-configuration"\n'
        # Streamlit asks for prompt=select_account by default; oidc-provider offers login.
        'client_kwargs = { prompt = "login" }\n' + ROLES
    )
    return path


def signed_in(role: str | None) -> dict:
    return {"is_logged_in": True, "email_verified": True, **PEOPLE[role]}
