from flask import abort


def page_for_hub_error(error):
    abort(error.status)
