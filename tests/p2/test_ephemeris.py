"""An OB's ephemeris file: ESO's unmodified ``p2api`` client against the live test server
(save, read back, delete, stale version, someone else's OB, duplicate), and the service's
rules (text only, size, frozen OBs, version and event)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import p2api  # type: ignore[import-untyped]  # ESO ships no type information
import pytest

from dataflow.errors import Frozen, InvalidInput, NotAllowed, StaleVersion
from observations import ob_parts, services
from observations import status as st
from observations.commands import ItemKind, ItemRef
from observations.models import EphemerisFile, ObservationBlock, Phase2Event
from tests.observations.conftest import Phase2

# A few lines of ESO's PAF-like ephemeris format.
EPHEMERIS = (
    "PAF.HDR.START ;\n"
    'PAF.TYPE "Instrument Setup" ;\n'
    "PAF.HDR.END ;\n"
    'INS.EPHEM.RECORD "2027-03-11T00:00:00.000,123.456,-12.345,0.1,0.2" ;\n'
)


@pytest.fixture
def ob(phase2: Phase2) -> ObservationBlock:
    return services.ob_create(container_id=phase2.root(phase2.sm).pk, name="Comet", actor=phase2.pi)


# ---------------------------------------------------------------------------------------------
# Through the client
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pointed_at_us(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The only change a script needs: the two URL tables."""
    monkeypatch.setitem(p2api.API_URL, "demo", live_server.url + "/p2/api/v1")
    monkeypatch.setitem(p2api.LOGIN_URL, "demo", live_server.url + "/p2/api/login")
    yield


@pytest.fixture
def ephem_file(tmp_path: Path) -> Path:
    path = tmp_path / "comet.eph"
    path.write_text(EPHEMERIS)
    return path


def connect(username: str) -> p2api.ApiConnection:
    return p2api.ApiConnection("demo", username, "pw")


@pytest.mark.django_db(transaction=True)
def test_the_client_saves_reads_back_and_deletes_an_ephemeris(
    pointed_at_us: None, ob: ObservationBlock, ephem_file: Path, tmp_path: Path
) -> None:
    # given
    api = connect("ada")
    back = tmp_path / "back.txt"
    _, version = api.getEphemerisFile(ob.pk, str(back))
    assert back.read_text() == ""  # none yet: an empty file, as p2 answers
    # when
    name, saved_version = api.saveEphemerisFile(ob.pk, str(ephem_file), version)
    _, read_version = api.getEphemerisFile(ob.pk, str(back))
    # then
    assert name == "comet.eph"
    assert back.read_text() == EPHEMERIS
    assert saved_version == read_version != version
    assert EphemerisFile.objects.get(ob=ob).file_name == "comet.eph"
    # when
    api.deleteEphemerisFile(ob.pk, read_version)
    _, after = api.getEphemerisFile(ob.pk, str(back))
    # then
    assert back.read_text() == ""
    assert not EphemerisFile.objects.filter(ob=ob).exists()
    assert after != read_version


@pytest.mark.django_db(transaction=True)
def test_a_stale_version_is_refused_with_412_and_changes_nothing(
    pointed_at_us: None, ob: ObservationBlock, ephem_file: Path, tmp_path: Path
) -> None:
    # given: a version read before someone else's change
    api = connect("ada")
    _, old = api.getEphemerisFile(ob.pk, str(tmp_path / "x.txt"))
    _, new = api.saveEphemerisFile(ob.pk, str(ephem_file), old)
    # when / then
    with pytest.raises(p2api.P2Error) as refused:
        api.saveEphemerisFile(ob.pk, str(ephem_file), old)
    assert refused.value.args[0] == 412
    with pytest.raises(p2api.P2Error) as refused:
        api.deleteEphemerisFile(ob.pk, old)
    assert refused.value.args[0] == 412
    assert EphemerisFile.objects.filter(ob=ob).exists()
    ob.refresh_from_db()
    assert f'"{ob.version}"' == new


@pytest.mark.django_db(transaction=True)
def test_another_users_ob_is_not_found(
    pointed_at_us: None, phase2: Phase2, ob: ObservationBlock, ephem_file: Path, tmp_path: Path
) -> None:
    # given
    api = connect(phase2.outsider.username)
    # when / then
    with pytest.raises(p2api.P2Error) as refused:
        api.saveEphemerisFile(ob.pk, str(ephem_file), None)
    assert refused.value.args[0] == 404
    with pytest.raises(p2api.P2Error) as refused:
        api.deleteEphemerisFile(ob.pk, None)
    assert refused.value.args[0] == 404
    assert not EphemerisFile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_duplicating_an_ob_copies_its_ephemeris(
    pointed_at_us: None, ob: ObservationBlock, ephem_file: Path, tmp_path: Path
) -> None:
    # given
    api = connect("ada")
    _, version = api.getEphemerisFile(ob.pk, str(tmp_path / "x.txt"))
    api.saveEphemerisFile(ob.pk, str(ephem_file), version)
    # when
    copy, _ = api.duplicateOB(ob.pk)
    back = tmp_path / "copy.txt"
    api.getEphemerisFile(copy["obId"], str(back))
    # then
    assert copy["obId"] != ob.pk
    assert back.read_text() == EPHEMERIS
    assert EphemerisFile.objects.get(ob_id=copy["obId"]).file_name == "comet.eph"


# ---------------------------------------------------------------------------------------------
# The service's rules
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_saving_bumps_the_version_and_writes_an_event(phase2: Phase2, ob: ObservationBlock) -> None:
    # when
    ob_parts.ephemeris_save(
        ob_id=ob.pk,
        file_name="../../etc/comet.eph",
        content=EPHEMERIS.encode(),
        actor=phase2.pi,
        expected_version=ob.version,
    )
    # then
    changed = ObservationBlock.objects.get(pk=ob.pk)
    assert changed.version == ob.version + 1
    assert changed.ephemeris.file_name == "comet.eph"  # no directories
    event = Phase2Event.objects.filter(ob=ob).last()
    assert event is not None and "ephemeris file saved: comet.eph" in event.message
    assert event.actor == phase2.pi


@pytest.mark.django_db
def test_saving_the_same_text_again_changes_nothing(phase2: Phase2, ob: ObservationBlock) -> None:
    # given
    ob_parts.ephemeris_save(ob_id=ob.pk, file_name="a.eph", content=EPHEMERIS, actor=phase2.pi)
    before = ObservationBlock.objects.get(pk=ob.pk).version
    events = Phase2Event.objects.count()
    # when
    ob_parts.ephemeris_save(ob_id=ob.pk, file_name="a.eph", content=EPHEMERIS, actor=phase2.pi)
    # then
    assert ObservationBlock.objects.get(pk=ob.pk).version == before
    assert Phase2Event.objects.count() == events


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "empty"),
        (b"A" * (ob_parts.MAX_EPHEMERIS_BYTES + 1), "at most"),
        (b"PAF.HDR.START ;\x00\n", "NUL"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
    ],
    ids=["empty", "too-big", "nul", "not-utf8"],
)
@pytest.mark.django_db
def test_bad_content_is_refused_and_changes_nothing(
    phase2: Phase2, ob: ObservationBlock, content: bytes, says: str
) -> None:
    # when
    with pytest.raises(InvalidInput) as refused:
        ob_parts.ephemeris_save(ob_id=ob.pk, file_name="x.eph", content=content, actor=phase2.pi)
    # then
    assert says in refused.value.errors["content"][0]
    assert not EphemerisFile.objects.exists()
    assert ObservationBlock.objects.get(pk=ob.pk).version == ob.version


@pytest.mark.django_db
def test_exactly_the_limit_is_accepted(phase2: Phase2, ob: ObservationBlock) -> None:
    content = b"A" * ob_parts.MAX_EPHEMERIS_BYTES
    ob_parts.ephemeris_save(ob_id=ob.pk, file_name="x.eph", content=content, actor=phase2.pi)
    assert len(EphemerisFile.objects.get(ob=ob).content) == ob_parts.MAX_EPHEMERIS_BYTES


@pytest.mark.django_db
def test_a_frozen_ob_is_refused(phase2: Phase2, ob: ObservationBlock) -> None:
    # given: an ephemeris, then the service-mode OB submitted (D)
    ob_parts.ephemeris_save(ob_id=ob.pk, file_name="a.eph", content=EPHEMERIS, actor=phase2.pi)
    ObservationBlock.objects.filter(pk=ob.pk).update(status=st.DEFINED)
    # when / then
    with pytest.raises(Frozen):
        ob_parts.ephemeris_save(ob_id=ob.pk, file_name="b.eph", content="new", actor=phase2.pi)
    with pytest.raises(Frozen):
        ob_parts.ephemeris_delete(ob_id=ob.pk, actor=phase2.pi)
    assert EphemerisFile.objects.get(ob=ob).content == EPHEMERIS


@pytest.mark.django_db
def test_delete_with_a_stale_version_is_refused(phase2: Phase2, ob: ObservationBlock) -> None:
    ob_parts.ephemeris_save(ob_id=ob.pk, file_name="a.eph", content=EPHEMERIS, actor=phase2.pi)
    with pytest.raises(StaleVersion):
        ob_parts.ephemeris_delete(ob_id=ob.pk, actor=phase2.pi, expected_version=ob.version)
    assert EphemerisFile.objects.filter(ob=ob).exists()


@pytest.mark.django_db
def test_deleting_writes_an_event_and_bumps_the_version(
    phase2: Phase2, ob: ObservationBlock
) -> None:
    saved = ob_parts.ephemeris_save(
        ob_id=ob.pk, file_name="a.eph", content=EPHEMERIS, actor=phase2.pi
    )
    version = ObservationBlock.objects.get(pk=saved.ob_id).version
    # when
    changed = ob_parts.ephemeris_delete(ob_id=ob.pk, actor=phase2.pi, expected_version=version)
    # then
    assert changed.version == version + 1
    assert not EphemerisFile.objects.filter(ob=ob).exists()
    event = Phase2Event.objects.filter(ob=ob).last()
    assert event is not None and event.message == "ephemeris file removed: a.eph"


@pytest.mark.django_db
def test_staff_cannot_write_an_investigators_ephemeris(
    phase2: Phase2, ob: ObservationBlock
) -> None:
    with pytest.raises(NotAllowed):
        ob_parts.ephemeris_save(
            ob_id=ob.pk, file_name="a.eph", content=EPHEMERIS, actor=phase2.staff
        )
    assert not EphemerisFile.objects.exists()


@pytest.mark.django_db
def test_services_duplicate_copies_the_ephemeris(phase2: Phase2, ob: ObservationBlock) -> None:
    ob_parts.ephemeris_save(ob_id=ob.pk, file_name="a.eph", content=EPHEMERIS, actor=phase2.pi)
    copy = services.item_duplicate(item=ItemRef(ItemKind.OB, ob.pk), actor=phase2.pi)
    assert copy.pk != ob.pk
    assert EphemerisFile.objects.get(ob_id=copy.pk).content == EPHEMERIS
    assert EphemerisFile.objects.get(ob_id=ob.pk).content == EPHEMERIS
