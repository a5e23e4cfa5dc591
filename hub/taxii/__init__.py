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
"""
from hub.taxii.views import bp
from hub.taxii import cli  # noqa: F401,E402  (registers `flask taxii ...` on the blueprint)

__all__ = ["bp"]
