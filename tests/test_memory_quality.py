"""Retrieval quality on a small hand-written conversation (LoCoMo-like: two speakers, six sessions
over ten months), with single-hop, multi-hop, temporal and changed-fact questions. Asserts recall@5
over HTTP, so it measures what n8n gets, including fusion, time hints and the recency signal."""

from __future__ import annotations

SESSIONS = [
    (
        "2023-03-04T18:00:00+00:00",
        [
            ("Maya", "I just adopted a golden retriever puppy and named him Biscuit."),
            ("Tom", "That's awesome! How old is he?"),
            ("Maya", "He's ten weeks old. He already chewed through one of my running shoes."),
            ("Maya", "I'm training for the Lisbon half marathon in October."),
            ("Tom", "I've been learning to play the cello, my teacher is very strict."),
        ],
    ),
    (
        "2023-04-15T18:00:00+00:00",
        [
            ("Maya", "I started a new job as a data analyst at Northwind Logistics."),
            ("Tom", "Congrats! Is the commute bad?"),
            ("Maya", "I bike there, it's only fifteen minutes along the river."),
            ("Tom", "My sister Elena is getting married in Porto this summer."),
            ("Maya", "I'm allergic to shellfish, so I always check menus carefully at weddings."),
        ],
    ),
    (
        "2023-06-10T18:00:00+00:00",
        [
            ("Maya", "We moved from Leeds to Manchester last weekend, the new flat has a balcony."),
            ("Tom", "I finally performed my first cello recital at the community hall."),
            ("Maya", "Biscuit passed his obedience class, he can sit and stay now."),
            ("Maya", "I switched from coffee to green tea because of my sleep problems."),
            ("Tom", "The weather has been awful, rain every day."),
        ],
    ),
    (
        "2023-08-20T18:00:00+00:00",
        [
            ("Tom", "Elena's wedding was beautiful, we danced until 2am."),
            ("Maya", "I sprained my ankle on a trail run, so I'm doing physio twice a week."),
            ("Maya", "My physiotherapist says I can start jogging again in three weeks."),
            ("Tom", "I'm thinking about adopting a cat from the shelter."),
            ("Maya", "I read 'The Overstory' on holiday and loved it."),
            ("Tom", "Did you watch the football match on Saturday?"),
        ],
    ),
    (
        "2023-10-08T18:00:00+00:00",
        [
            ("Maya", "I finished the Lisbon half marathon in 1 hour 52 minutes!"),
            ("Tom", "Incredible, especially after the ankle injury."),
            ("Maya", "I got promoted to senior data analyst, now I lead the forecasting team."),
            ("Tom", "I adopted a grey cat called Pepper."),
            ("Maya", "Biscuit and Pepper should meet, Biscuit loves cats."),
            ("Maya", "Work has been busy but good."),
        ],
    ),
    (
        "2024-01-14T18:00:00+00:00",
        [
            ("Maya", "I'm learning Portuguese on Duolingo before a trip to Brazil."),
            ("Maya", "I quit Northwind and joined a climate startup called Verdant as head of analytics."),
            ("Tom", "My cello teacher retired, so I'm looking for a new one."),
            ("Maya", "I'm vegetarian now, since New Year."),
            ("Tom", "Let's go to that vegetarian ramen place near Piccadilly."),
            ("Maya", "Biscuit turned one last week, we celebrated with a dog-friendly cake."),
        ],
    ),
]

# (question, phrases of the evidence turns, extra query params)
QUESTIONS = [
    ("What is the name of Maya's dog?", ["named him Biscuit"], {}),
    ("Where does Maya work now?", ["joined a climate startup"], {}),
    ("What was Maya's role at Northwind?", ["data analyst at Northwind", "promoted to senior data analyst"], {}),
    ("Which city does Maya live in?", ["Leeds to Manchester"], {}),
    ("What was Maya's finishing time in the Lisbon half marathon?", ["1 hour 52 minutes"], {}),
    ("Why did Maya need physiotherapy?", ["sprained my ankle"], {}),
    ("What did Maya drink before she switched to green tea?", ["coffee to green tea"], {}),
    ("How was Elena's wedding?", ["wedding was beautiful"], {}),
    ("What is the name of Tom's cat?", ["grey cat called Pepper"], {}),
    ("Which food is Maya allergic to?", ["allergic to shellfish"], {}),
    ("What did Maya tell Tom in October 2023?", ["1 hour 52 minutes", "promoted to senior"], {}),
    ("Which instrument is Tom learning?", ["play the cello"], {}),
    ("How does Maya commute to the office?", ["I bike there"], {}),
    ("What novel did Maya read during her vacation?", ["The Overstory"], {}),
    ("What diet does Maya follow these days?", ["vegetarian now"], {}),
    ("How old was Biscuit when Maya got him?", ["ten weeks old"], {}),
    ("What language is Maya studying and why?", ["learning Portuguese"], {}),
    ("What did Maya celebrate last week?", ["Biscuit turned one"], {"as_of": "2024-01-16T12:00:00+00:00"}),
]


def _load(api, client_id) -> dict[str, str]:
    items = [
        {"text": text, "kind": "message", "metadata": {"speaker": speaker}, "occurred_at": when}
        for when, turns in SESSIONS
        for speaker, text in turns
    ]
    resp = api.post("/api/v1/memory/remember/batch", json={"client_id": client_id, "items": items})
    assert resp.status_code == 201, resp.text
    return {item["id"]: item["text"] for item in resp.json()["items"]}


def _recall_at_5(api, client_id, db, analyzed: bool) -> tuple[float, list[str]]:
    if analyzed:
        db.execute("ANALYZE memories")
    scores, report = [], []
    for question, evidence, params in QUESTIONS:
        resp = api.get("/api/v1/memory/recall", params={"client_id": client_id, "q": question, "k": 5, **params})
        assert resp.status_code == 200, resp.text
        texts = [hit["text"] for hit in resp.json()["hits"]]
        found = sum(1 for phrase in evidence if any(phrase in text for text in texts))
        scores.append(found / len(evidence))
        report.append(f"{found}/{len(evidence)} {question} -> {[t[:40] for t in texts]}")
    return sum(scores) / len(scores), report


def test_recall_at_5_on_a_conversation(api, client_id, db):
    _load(api, client_id)
    for analyzed in (False, True):  # before and after Postgres has term statistics
        score, report = _recall_at_5(api, client_id, db, analyzed)
        print(f"\nrecall@5 (analyzed={analyzed}) = {score:.3f}\n" + "\n".join(report))
        assert score >= 0.9, "\n".join(report)


def test_changed_fact_ranks_the_newer_statement_first(api, client_id):
    _load(api, client_id)
    hits = api.get(
        "/api/v1/memory/recall", params={"client_id": client_id, "q": "Where does Maya work currently?", "k": 10}
    ).json()["hits"]
    texts = [h["text"] for h in hits]
    newer = next(i for i, t in enumerate(texts) if "Verdant" in t)
    older = next((i for i, t in enumerate(texts) if "data analyst at Northwind" in t), len(texts))
    assert newer < older, texts


def test_since_until_filter_and_time_hint(api, client_id):
    _load(api, client_id)
    resp = api.get(
        "/api/v1/memory/recall",
        params={
            "client_id": client_id,
            "q": "Biscuit",
            "since": "2023-06-01T00:00:00+00:00",
            "until": "2023-12-31T00:00:00+00:00",
        },
    ).json()
    assert resp["hits"] and all("2023-06" <= h["occurred_at"][:7] <= "2023-12" for h in resp["hits"])
    hinted = api.get(
        "/api/v1/memory/recall",
        params={"client_id": client_id, "q": "what happened last week?", "as_of": "2023-06-14T00:00:00+00:00"},
    ).json()
    assert hinted["time_hint"]["expression"] == "last week"
    assert "time" in hinted["hits"][0]["matched_by"]
