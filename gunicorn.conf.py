"""Read by gunicorn from the working directory (the image's /app, the project root): every
web worker pays the share path's one-time costs (hub/intel/warmup.py) before it takes a request,
so the first TAXII add it answers is not seconds slower than the next."""


def post_worker_init(worker):
    from hub.intel.warmup import freeze_start_up_objects, warm_up
    from hub.taxii.warmup import warm_up_database

    worker.log.info("share path warmed up in %.1f s", warm_up())
    with worker.wsgi.app_context():
        took = warm_up_database()
    if took is not None:
        worker.log.info("database paths warmed up in %.2f s", took)
    worker.log.info("%d start-up objects frozen out of the garbage collector", freeze_start_up_objects())
