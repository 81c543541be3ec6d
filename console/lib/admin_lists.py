"""What keeps a Django admin changelist as fast at 500,000 rows as at 1,000.

Django's admin counts the whole table for "n total" (ModelAdmin.show_full_result_count: False
on every ModelAdmin here), and a list_filter on a field without choices lists its values with
SELECT DISTINCT over the whole table. RecentValuesFilter lists instead the values among the
newest RECENT rows: one bounded query, whatever the table's size.
"""

from __future__ import annotations

from django.contrib import admin

RECENT = 2000


def recent_values(field: str, title: str | None = None) -> type[admin.SimpleListFilter]:
    """A list filter on `field` offering the values of the newest RECENT rows."""

    class RecentValuesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            newest = model_admin.get_queryset(request).order_by("-pk")[:RECENT].values_list(field, flat=True)
            return [(value, value) for value in sorted({v for v in newest if v not in (None, "")})]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    RecentValuesFilter.title = title or field.replace("_", " ")
    RecentValuesFilter.__name__ = f"Recent{field.title().replace('_', '')}Filter"
    return RecentValuesFilter
