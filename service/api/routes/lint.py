"""POST /v1/lint: check an agent's draft before it is sent."""

from fastapi import APIRouter

from service.api.auth import AgentRole
from service.api.deps import LinterDep
from service.api.errors import error_responses
from service.api.schemas import LintRequest, LintResponse

# The lexicon loads with the app, not the models: no 503 here.
router = APIRouter(prefix="/v1", tags=["lint"], dependencies=[AgentRole], responses=error_responses(401, 403, 422))


@router.post("/lint", response_model=LintResponse)
def lint(body: LintRequest, linter: LinterDep) -> LintResponse:
    """Find taboo wording, advertising-law absolute terms, unfilled placeholders and an empty draft."""
    findings = [f.as_dict() for f in linter.check(body.text)]
    return LintResponse(findings=findings, ok=not findings)
