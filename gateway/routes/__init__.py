"""The gateway's routes, one module per service behind it (and `health` for the gateway's
own), each with the error rows of that service's refusals; gateway.service assembles them."""


def paging(request):
    """The page and per_page the query asks for."""
    return {k: request.args[k] for k in ("page", "per_page") if k in request.args}


def filters(request, names, grant):
    """The listing filters asked for in the query, narrowed by the caller's scope."""
    return dict({k: request.args[k] for k in names if k in request.args}, **grant.filters)
