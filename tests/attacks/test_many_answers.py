"""Row 2: a LISJP with 60,000 distinct supplementary answers (about 7 MB) and a DOI with question 9
repeated 8,000 times are answered in time linear in their answers (rules and fact extraction index
the answers once), on worker threads, while /health and a legitimate registration are answered."""

from __future__ import annotations

import re

from intygstjanst.tests.attacks.siege import XML, assert_bystanders_served, attack, repeated_question_9, supplementary_flood
from intygstjanst.tests.soap import REGISTER, result
from intygstjanst.tests.support import require_shared

# Generous for a loaded two-core machine; the quadratic rules took 96 s and 23 s (and 193 s for a DOI
# with 4,000 repetitions) on their own.
SECONDS = 60.0


def test_a_lisjp_with_60000_supplementary_answers(live_server) -> None:
    body = supplementary_flood(60_000)
    assert len(body) > 3_000_000
    siege = attack(live_server, lambda client: client.post(live_server.base_url + REGISTER, content=body, headers=XML))
    code, error_id, text = result(siege.answer.content)
    # Supplementary questions are 9000-9999: the rest are unknown questions, each one reported, after
    # every answer was indexed and checked.
    assert (code, error_id) == ("ERROR", "VALIDATION_ERROR"), siege.answer.content[:500]
    assert "Question 10000 is not part of this certificate type" in (text or "")
    # The answer lists 100 of them (max_listed_violations) and says how many more there were.
    more = re.search(r"; and (\d+) more \(limit max_listed_violations\)$", text or "")
    assert more is not None and int(more.group(1)) > 50_000, (text or "")[-300:]
    assert (text or "").count("is not part of this certificate type") == 100
    assert len(siege.answer.content) < 50_000
    assert siege.seconds < SECONDS, f"took {siege.seconds:.1f} s"
    assert_bystanders_served(siege)


def test_a_doi_with_question_9_repeated_8000_times(live_server) -> None:
    require_shared()
    body = repeated_question_9(8_000)
    siege = attack(live_server, lambda client: client.post(live_server.base_url + REGISTER, content=body, headers=XML))
    code, error_id, text = result(siege.answer.content)
    # Question 9 may be answered at most a few times: the answer is a validation error naming it,
    # reached after every instance was checked.
    assert (code, error_id) == ("ERROR", "VALIDATION_ERROR"), siege.answer.content[:500]
    assert siege.seconds < SECONDS, f"took {siege.seconds:.1f} s"
    assert_bystanders_served(siege)
