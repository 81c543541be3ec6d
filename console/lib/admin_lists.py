"""What keeps a Django admin changelist as fast at 500,000 rows as at 1,000.

Django's admin counts the whole table for "n total" (ModelAdmin.show_full_result_count), counts
the filtered rows again for its pages, and a list_filter on a field without choices lists its
values with SELECT DISTINCT over the whole table. ListAdmin, the base of every ModelAdmin here,
does neither count past COUNT_CAP rows (CappedPaginator), and RecentValuesFilter lists the
values among the newest RECENT rows: bounded queries, whatever the table's size.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator

RECENT = 2000
COUNT_CAP = 2000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (COUNT over a LIMIT subquery): a longer list says
    "more than 2000" (templates/admin/pagination.html) and pages that far; a filter or a search
    narrows it."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()

    @property
    def cap(self) -> int:
        return COUNT_CAP

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP


class ListAdmin(admin.ModelAdmin):
    """A ModelAdmin whose changelist costs the same over 1,000 rows as over 500,000. Its pages
    leave out the big columns a model declares (BIG_COLUMNS: a job's histograms, an adapter's
    test results) of the rows it shows beside its own, and its own that its form excludes."""

    show_full_result_count = False
    paginator = CappedPaginator

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        deferred = big_columns(self.model, self.list_select_related, self.exclude or ())
        return queryset.defer(*deferred) if deferred else queryset


def big_columns(model, related: Iterable[str] | bool, excluded: Iterable[str]) -> list[str]:
    """The big columns of `model` in `excluded`, and those of each model along the `related`
    paths (a ModelAdmin's list_select_related)."""
    found = [name for name in getattr(model, "BIG_COLUMNS", ()) if name in excluded]
    for path in related if not isinstance(related, bool) else ():
        along, prefix = model, ""
        for step in path.split("__"):
            along, prefix = along._meta.get_field(step).related_model, f"{prefix}{step}__"
            found += [prefix + name for name in getattr(along, "BIG_COLUMNS", ())]
    return found


def recent_values(
    field: str, title: str | None = None, *, known: Iterable[str] | None = None
) -> type[admin.SimpleListFilter]:
    """A list filter on `field` offering the values of the newest RECENT rows, or the `known`
    values when the field can hold no others (no query at all)."""
    fixed = list(known) if known is not None else None

    class RecentValuesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            if fixed is not None:
                return [(value, value) for value in fixed]
            newest = model_admin.get_queryset(request).order_by("-pk")[:RECENT].values_list(field, flat=True)
            return [(value, value) for value in sorted({v for v in newest if v not in (None, "")})]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    RecentValuesFilter.title = title or field.replace("_", " ")
    RecentValuesFilter.__name__ = f"Recent{field.title().replace('_', '')}Filter"
    return RecentValuesFilter
