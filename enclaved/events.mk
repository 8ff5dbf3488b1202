# Enclaves.Events and the events/console integration tests (events component); included from
# the end of enclaved/local.mk.
enclaved_libenclaved_a_SOURCES += enclaved/api_events.c enclaved/api_events.h

EVENTS_TESTS = tests/integration/events-basic.sh tests/integration/events-resize.sh
TESTS += $(EVENTS_TESTS)
EXTRA_DIST += $(EVENTS_TESTS)
