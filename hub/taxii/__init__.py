"""TAXII 2.1 server (OASIS TAXII Version 2.1) at /taxii2/, one API root at /taxii2/api/.

Clients sign in with HTTP Basic (e-mail, API token as the password) or a Bearer API token and see
exactly what the sharing policy lets them read (hub/policy.py, through hub.intel.reads).
Collections are audiences (hub/taxii/collections.py); objects are paged by the hub's date_added,
which strictly increases in commit order, so `next` and `added_after` paging never lose or
repeat an object, even while new ones arrive.

Choices where the specification leaves room:
- match[version]=first/last pick among all versions of an object; added_after then keeps the
  picked versions added after the given time.
- DELETE by the owner organisation revokes the object (a new version with revoked: true) instead
  of erasing it. The specification's DELETE makes an object disappear; the sharing policy says
  recipients keep what they received and learn when it is withdrawn (rules 9 and 10), and a
  disappearing indicator is one a SIEM keeps alerting on. So after a DELETE the object is
  served as revoked, in every collection that holds it, and its recipients are alerted.
- Posting fewer than HUB_TAXII_ASYNC_OBJECTS objects is processed before the answer: the status
  is `complete` in the 202 response. A larger request is answered `pending` at once and shared
  by the workers, its counts exact as they go (hub/taxii/pending.py).
- An object that enters a reader's collections later (widened, or shared with a group the
  reader's organisation joins) is added anew: its versions get a new date_added, so a client
  polling by added_after or next receives it; one that could read it before may receive it again.
- A `next` token is a position in the query that issued it; another collection or endpoint
  ignores it (OpenCTI's connector sends one collection's token to the next) instead of refusing it.
- The TLP marking definitions are not stored but known: an add of one succeeds, and a read of
  its id serves the published object.
- An id is the same whatever the case of its UUID's hex (hub.db.StixId): objects keep the id as
  sent and are found by either spelling; the manifest and statuses name it in lower case.
- Versions are keyed to the microsecond. A modified written finer (nine digits) is kept as sent,
  named to the microsecond in the manifest and versions, and found by match[version] in either
  precision; another version falling on the same microsecond is refused, saying why.
- An object marked by its sender's own TLP definition (hub.intel.markings) is held to that TLP.
"""
from hub.taxii.views import bp
from hub.taxii import cli  # noqa: F401,E402  (registers `flask taxii ...` on the blueprint)

__all__ = ["bp"]
