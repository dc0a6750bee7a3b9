"""The IDMX list as a DCAT-AP 3.0.0 catalogue in JSON-LD, for CKAN and any DCAT harvester.

Every item is a `dcat:Dataset` with its title, description, publisher (the responsible institution,
a `foaf:Agent`), theme (the topic, a `skos:Concept` in the IDMX topic scheme), landing page (the
item's public page) and issue date: the actual publication date once published, otherwise the
planned one (the institution's committed due date, else the policy's latest date). A published
dataset also gets a `dcat:Distribution` whose access URL is the address the institution gave.

Items without a planned date (denied ones, for instance) carry no issue date: DCAT makes it
optional, and a made-up date would be wrong. Built from the same rows as the tabular exports, so the
allow-list in `idmx.idmx_list.export` applies here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idmx.i18n import gettext as _

if TYPE_CHECKING:  # the rows are built in `export`, which renders through this module
    from idmx.idmx_list.export import EditionExport

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
MEDIA_JSONLD = "application/ld+json"


def _date(value: Any) -> dict[str, str]:
    return {"@value": value.isoformat(), "@type": "xsd:date"}


def _text(value: str, lang: str) -> dict[str, str]:
    return {"@value": value, "@language": lang}


def catalogue(export: EditionExport, base_url: str, lang: str = "es") -> dict[str, Any]:
    """The JSON-LD document of one published edition. `base_url`: the site's public address."""
    base = base_url.rstrip("/")
    meta = export.meta
    central = {
        "@id": f"{base}/#central-team",
        "@type": "foaf:Agent",
        "foaf:name": _text(_("IDMX central team"), lang),
    }
    scheme = {"@id": f"{base}/topics", "@type": "skos:ConceptScheme", "dct:title": _text(_("IDMX topics"), lang)}
    agents: dict[str, dict[str, Any]] = {}
    themes: dict[str, dict[str, Any]] = {}
    datasets = []
    for row in export.rows:
        landing = f"{base}{row['item_path']}" if row["item_path"] else f"{base}{meta.path}#item-{row['item_key']}"
        dataset: dict[str, Any] = {
            "@id": landing,
            "@type": "dcat:Dataset",
            "dct:identifier": f"{meta.series}/{row['item_key']}",
            "dct:title": _text(row["title"], lang),
            # DCAT-AP requires a description; an item without one is described by its title.
            "dct:description": _text(row["description"] or row["title"], lang),
            "dcat:landingPage": {"@id": landing, "@type": "foaf:Document"},
        }
        if row["institution_acronym"]:
            agent_id = f"{base}/institutions/{row['institution_acronym']}"
            agents.setdefault(agent_id, {"@id": agent_id, "@type": "foaf:Agent",
                                         "foaf:name": _text(row["institution"], lang)})
            dataset["dct:publisher"] = {"@id": agent_id}
        if row["topic_code"]:
            theme_id = f"{base}/topics#{row['topic_code']}"
            themes.setdefault(theme_id, {"@id": theme_id, "@type": "skos:Concept",
                                         "skos:prefLabel": _text(row["topic"], lang),
                                         "skos:inScheme": {"@id": scheme["@id"]}})
            dataset["dcat:theme"] = {"@id": theme_id}
        issued = row["published_on"] or row["due_date"] or row["policy_due"]
        if issued is not None and row["status"] != "denied":
            dataset["dct:issued"] = _date(issued)
        if row["published_url"]:
            dataset["dcat:distribution"] = {
                "@id": f"{landing}#distribution",
                "@type": "dcat:Distribution",
                # Typed explicitly: a harvester need not run RDFS inference to see it is a resource.
                "dcat:accessURL": {"@id": row["published_url"], "@type": "rdfs:Resource"},
            }
        datasets.append(dataset)
    catalog = {
        "@id": f"{base}{meta.path}",
        "@type": "dcat:Catalog",
        "dct:title": _text(meta.title, lang),
        "dct:description": _text(
            _("Prioritised datasets of %(title)s, version %(version)s, and the responsible institutions' plans.")
            % {"title": meta.title, "version": meta.version}, lang),
        "dct:publisher": {"@id": central["@id"]},
        "dct:issued": _date(meta.published_at.date()),
        "dcat:themeTaxonomy": {"@id": scheme["@id"]},
        "dcat:dataset": [{"@id": d["@id"]} for d in datasets],
    }
    return {"@context": CONTEXT, "@graph": [catalog, central, scheme, *agents.values(), *themes.values(), *datasets]}

