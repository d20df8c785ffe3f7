"""Typed dependencies: the wired services, a database session per request, the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from miaopi.errors import Unauthenticated
from miaopi.workflow import Services, user_by_token
from store.workflow import User

COOKIE = "miaopi_token"
_bearer = HTTPBearer(auto_error=False, description="API token (`miaopi user add` prints it)")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with services.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _token(request: Request, creds: HTTPAuthorizationCredentials | None) -> str | None:
    if creds is not None and creds.scheme.lower() == "bearer":
        return creds.credentials
    return request.cookies.get(COOKIE)


def optional_user(
    request: Request,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | None:
    token = _token(request, creds)
    if not token:
        return None
    return user_by_token(session, token)


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthenticated("请提供有效的访问令牌（Authorization: Bearer …）")
    return user


UserDep = Annotated[User, Depends(current_user)]
