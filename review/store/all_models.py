"""Import every table module, so SQLModel.metadata (and Alembic) sees the whole schema."""

from review.store import models  # noqa: F401
from review.store import models_followup  # noqa: F401
from review.store import models_content  # noqa: F401
from review.store import models_eval  # noqa: F401
