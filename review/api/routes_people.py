"""People, tokens, notifications, and the public feedback channel."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from review.api.app import client, ok, page_limit, read_body, state
from review.client.local import LocalClient
from review.errors import InvalidInput

router = APIRouter()


class UserIn(BaseModel):
    username: str
    team: str
    roles: str = Field(description="comma-separated: submitter, reviewer, chair, admin")
    display_name: str = ""


class TokenIn(BaseModel):
    username: str
    scope: str = Field("write", description="read (GET only) or write")
    expires: str | None = Field(None, description="lifetime such as 90d, 12h, 2w (default 90d, at most 366d)")
    name: str = Field("", description="what the token is for")


class FeedbackIn(BaseModel):
    product: str = Field(description="product name or id")
    message: str
    contact: str | None = None


class TriageIn(BaseModel):
    verdict: str = Field(description="credible or not-credible")
    rationale: str


@router.get("/me", tags=["people"], summary="The authenticated person")
def me(c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.whoami())


class ChannelIn(BaseModel):
    url: str | None = Field(description="an Apprise URL (mailto://, slack://, msteams://, ntfy://...); null clears it")
    username: str | None = Field(None, description="another person's (admin only); default: yours")


@router.put("/channel", tags=["people"], summary="Set or clear your own notification channel (the answer is masked)")
def set_channel(body: ChannelIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.set_channel(body.url, username=body.username))


@router.get("/channel", tags=["people"], summary="Your notification channel, masked")
def get_channel(username: str | None = None, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.channel(username))


@router.get("/users", tags=["people"], summary="Everyone, with teams and roles")
def users(c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.list_users())


@router.post("/users", tags=["people"], summary="Add a person (admin)", status_code=201)
def add_user(body: UserIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.add_user(body.username, team=body.team, roles=body.roles, display_name=body.display_name), 201)


@router.get("/tokens", tags=["people"], summary="API tokens: yours, or everyone's for an admin")
def list_tokens(username: str | None = None, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.list_tokens(username))


@router.post("/tokens", tags=["people"], summary="Create an API token (admin); the secret is in this response only", status_code=201)
def create_token(body: TokenIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.create_token(body.username, scope=body.scope, expires=body.expires, name=body.name), 201)


@router.post("/tokens/{token_id}/revoke", tags=["people"], summary="Revoke a token (its owner or an admin)")
def revoke_token(token_id: str, request: Request, c: LocalClient = Depends(client)) -> JSONResponse:
    out = ok(c.revoke_token(token_id))
    state(request).auth.tokens.clear()  # this worker stops trusting it now; the others within token_cache_seconds
    return out


@router.get("/notifications", tags=["people"], summary="Your notifications: to you, your team, the committee or the chair")
def inbox(limit: int = 100, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.inbox(limit=page_limit(limit)))


@router.post("/feedback", tags=["feedback"], status_code=201,
             summary="Raise an ethics concern about a product (public: no credential; size- and rate-limited)")
async def submit_feedback(request: Request) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    st = state(request)
    st.feedback_limiter.hit(request.client.host if request.client else "unknown")
    limit = st.settings.feedback_max_chars
    raw = await read_body(request, limit * 4 + 2048, what="feedback")
    try:
        body = FeedbackIn.model_validate_json(raw)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in e["loc"]) or "body"
        raise InvalidInput(f"{where}: {e['msg']} (send JSON with product, message and an optional contact)") from None
    if len(body.message) > limit:
        raise InvalidInput(f"message: {len(body.message)} characters is over the {limit} limit; summarise it")
    public = LocalClient(st.db, None)
    receipt = await run_in_threadpool(public.submit_feedback, body.product, body.message, contact=body.contact)
    return ok(receipt, 201)  # the id and status only: nothing the sender wrote is echoed back


@router.get("/feedback", tags=["feedback"], summary="Feedback, newest first")
def list_feedback(status: str | None = None, limit: int = 100, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.list_feedback(status=status, limit=page_limit(limit)))


@router.post("/feedback/{feedback_id}/triage", tags=["feedback"], summary="Triage feedback: credible (opens a check) or not-credible")
def triage(feedback_id: str, body: TriageIn, c: LocalClient = Depends(client)) -> JSONResponse:
    return ok(c.triage_feedback(feedback_id, body.verdict, rationale=body.rationale))

