"""The blueprint every area serves, written once and made once per area.

flask-smorest documents and validates a view from decorators applied when the view is
defined, and each area has schemas of its own (its activity's fields, its stages and
roles). So :class:`AreaRoutes` takes the place of a Blueprint at module level: views
are module-level :class:`AreaView` classes, decorated as on a flask-smorest Blueprint
(``route``, ``arguments``, ``response``, ``alt_response``, ``doc``, and ``require``
for the scope), with an area's own schema named by its :class:`AreaSchemas` attribute.
The decorators are recorded, and :meth:`AreaRoutes.blueprint` applies them, in the
same order, to one subclass of each view per area, on that area's real Blueprint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from flask.views import MethodView
from marshmallow import Schema

from shared import auth
from shared.area import Area
from shared.area.schemas import AreaSchemas
from shared.blueprint import Blueprint

F = TypeVar("F", bound=Callable[..., Any])
V = TypeVar("V", bound="type[AreaView]")
# A schema class or instance, or the name of one of the area's own (an AreaSchemas
# attribute, such as "activity_in").
SchemaRef = type[Schema] | Schema | str
# One recorded decorator: made for an area's blueprint and schemas when it is bound.
Step = Callable[[Blueprint, AreaSchemas], Callable[[Any], Any]]
STEPS = "_area_steps"


class AreaView(MethodView):
    """A route every area serves; ``area`` and ``schemas`` are the area's own once bound."""

    area: ClassVar[Area]
    schemas: ClassVar[AreaSchemas]


def _recorded(step: Step) -> Callable[[F], F]:
    def record(method: F) -> F:
        vars(method).setdefault(STEPS, []).append(step)
        return method

    return record


def _schema(ref: SchemaRef, schemas: AreaSchemas) -> type[Schema] | Schema:
    found: type[Schema] | Schema = getattr(schemas, ref) if isinstance(ref, str) else ref
    return found


class AreaRoutes:
    """Views and their decorators, recorded once, for one Blueprint per area."""

    def __init__(self) -> None:
        self._views: list[tuple[str, type[AreaView]]] = []

    def route(self, rule: str) -> Callable[[V], V]:
        """Register a view; ``{path}`` in ``rule`` is the area's activity path."""

        def record(view: V) -> V:
            self._views.append((rule, view))
            return view

        return record

    def require(self, verb: str) -> Callable[[F], F]:
        """:func:`shared.auth.require`, outermost, as on every route."""
        return _recorded(lambda _blp, _schemas: auth.require(verb))

    def arguments(self, schema: SchemaRef, **options: Any) -> Callable[[F], F]:
        return _recorded(lambda blp, schemas: blp.arguments(_schema(schema, schemas),
                                                            **options))

    def response(self, status: int, schema: SchemaRef | None = None,
                 **options: Any) -> Callable[[F], F]:
        """``schema`` None: the view returns a Response of its own (``content_type``)."""
        return _recorded(lambda blp, schemas: blp.response(
            status, None if schema is None else _schema(schema, schemas), **options))

    def alt_response(self, status: int, **options: Any) -> Callable[[F], F]:
        return _recorded(lambda blp, _schemas: blp.alt_response(status, **options))

    def doc(self, **documentation: Any) -> Callable[[F], F]:
        return _recorded(lambda blp, _schemas: blp.doc(**documentation))

    def blueprint(self, area: Area, schemas: AreaSchemas, import_name: str,
                  **options: Any) -> Blueprint:
        """One area's Blueprint: every view, bound to the area and its schemas."""
        blp = Blueprint(area.name, import_name, **options)
        for rule, view in self._views:
            blp.route(rule.format(path=area.activity_path))(_bound(view, blp, area, schemas))
        return blp


def _bound(view: type[AreaView], blp: Blueprint, area: Area,
           schemas: AreaSchemas) -> type[AreaView]:
    """A subclass of ``view`` for one area, its methods decorated as recorded."""
    methods: dict[str, Any] = {"area": area, "schemas": schemas}
    for name in sorted(view.methods or ()):
        method = getattr(view, name.lower())
        for step in vars(method).get(STEPS, ()):
            method = step(blp, schemas)(method)
        methods[name.lower()] = method
    return type(view.__name__, (view,), methods)
