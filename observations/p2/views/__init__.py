"""The p2-compatible API (ESO's ``p2api`` client, ``../shared/P2API.md``) over the Phase 2
services: each view finds the object through the selectors (someone else's run, container or
OB is a 404), translates p2's JSON into one service command (``observations.p2.shapes``) and
answers in p2's shape with the object's version as ``ETag``. No rule is decided here.
"""

from observations.p2.views.account import *  # noqa: F403
from observations.p2.views.catalogue import *  # noqa: F403
from observations.p2.views.containers import *  # noqa: F403
from observations.p2.views.obs import *  # noqa: F403
from observations.p2.views.parts import *  # noqa: F403
