"""The admin's changelists of the tables that grow filter and order only on indexed columns: a
filter on a column no index leads scans the whole table for its page (and its count)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin

# Tables that grow with the images behind the console (a row per image, prediction, verdict,
# change, notice, hash, delivery, unit of work...).
GROWING = [
    "bulk_analysis.Prediction",
    "adapters.Image",
    "adapters.ImageLabel",
    "console.AuditEntry",
    "console.Notification",
    "console.ImageEmbedding",
    "console.LoginFailure",
    "console.Lease",
    "hashbanks.BankHash",
    "hashbanks.ImageHash",
    "rekognition_api.ApiRequest",
    "webhooks.Delivery",
    "verification.Verification",
    "verification.ImageReview",
    "verification.ReviewClaim",
]


def leading_columns(model) -> set[str]:
    """The columns an index of the model starts with (primary key, unique, foreign keys included)."""
    opts = model._meta
    leading = {opts.pk.name, "pk"}
    leading |= {f.name for f in opts.concrete_fields if f.unique or f.db_index}
    leading |= {index.fields[0].lstrip("-") for index in opts.indexes if index.fields}
    leading |= {c.fields[0] for c in opts.constraints if getattr(c, "fields", None)}
    return leading


def filtered_and_ordered(model_admin) -> set[str]:
    """The columns the changelist filters (list_filter) and orders (ordering) on."""
    columns = set()
    for entry in model_admin.list_filter:
        if isinstance(entry, str):
            columns.add(entry.split("__")[0])
        elif isinstance(entry, tuple):
            columns.add(entry[0].split("__")[0])
        else:  # a SimpleListFilter on one column (console.lib.admin_lists.recent_values)
            columns.add(entry.parameter_name)
    ordering = model_admin.ordering or model_admin.model._meta.ordering or ["-pk"]
    columns |= {str(field).lstrip("-") for field in ordering}
    return columns


@pytest.mark.parametrize("label", GROWING)
def test_the_admin_filters_and_orders_a_growing_table_only_on_indexed_columns(label):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    unindexed = filtered_and_ordered(model_admin) - leading_columns(model)
    assert not unindexed, f"{label}: the admin filters or orders on {sorted(unindexed)}, which no index leads"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "label, field, expected",
    [
        ("verification.Verification", "label", "Alcohol"),
        ("rekognition_api.ApiRequest", "operation", "DescribeProjects"),
    ],
)
def test_a_filter_on_a_column_of_known_values_offers_them_all_without_a_query(
    rf, django_assert_num_queries, label, field, expected
):
    model_admin = admin.site._registry[apps.get_model(label)]
    (filter_class,) = [f for f in model_admin.list_filter if getattr(f, "parameter_name", "") == field]
    request = rf.get("/")
    with django_assert_num_queries(0):  # not the newest rows' values: they may hold fewer
        offered = [
            value
            for value, _ in filter_class(request, {}, model_admin.model, model_admin).lookups(
                request, model_admin
            )
        ]
    assert expected in offered
