"""POST /v1/lint: check an agent's draft before it is sent."""

from fastapi import APIRouter, Request

from service.auth import AgentRole
from service.schemas import LintRequest, LintResponse

router = APIRouter(prefix="/v1", tags=["lint"], dependencies=[AgentRole])


@router.post("/lint", response_model=LintResponse)
def lint(body: LintRequest, request: Request) -> LintResponse:
    """Find taboo wording, advertising-law absolute terms, unfilled placeholders and an empty draft."""
    findings = [f.as_dict() for f in request.app.state.linter.check(body.text)]
    return LintResponse(findings=findings, ok=not findings)
