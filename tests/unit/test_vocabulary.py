"""The shared value lists say what the services hold: the contracts cannot drift from them."""
from contracts import vocabulary
from services.dispatch.catalogue import SERVICES


def test_the_service_codes_are_the_catalogues_in_its_order():
    assert vocabulary.SERVICE_CODES == tuple(SERVICES)
    assert all(SERVICES[code].code == code for code in vocabulary.SERVICE_CODES)
