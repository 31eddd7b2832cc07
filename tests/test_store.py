"""The SQLite store: designs, settings, names, and the schema version."""


import pytest

from builder import database, workspace
from builder.store import DesignNameError, Store, clean_name


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "nc.sqlite")


def test_a_new_store_has_the_current_schema_and_no_designs(store):
    assert store.schema_version == database.SCHEMA_VERSION
    assert store.list_designs() == []


def test_create_save_and_get_round_trip(store):
    record = store.create_design("MLP", '{"nodes": []}')
    assert store.save_design(record.id, '{"nodes": [1]}')
    again = store.get_design(record.id)
    assert again.name == "MLP"
    assert again.json == '{"nodes": [1]}'
    assert again.updated_at >= record.updated_at


def test_saving_or_getting_a_missing_design_says_so(store):
    assert store.save_design(999, "{}") is None
    assert store.get_design(999) is None
    assert store.delete_design(999) is False


def test_taken_names_get_a_number(store):
    first = store.create_design("CNN", "{}")
    second = store.create_design("CNN", "{}")
    third = store.create_design("  CNN  ", "{}")
    assert [first.name, second.name, third.name] == ["CNN", "CNN (2)", "CNN (3)"]


def test_rename_keeps_its_own_name_and_numbers_a_taken_one(store):
    a = store.create_design("A", "{}")
    store.create_design("B", "{}")
    assert store.rename_design(a.id, "A") == "A"
    assert store.rename_design(a.id, "B") == "B (2)"
    with pytest.raises(KeyError):
        store.rename_design(12345, "C")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 121, None, 3])
def test_bad_names_are_refused_with_a_sentence(store, bad):
    record = store.create_design("ok", "{}")
    with pytest.raises(DesignNameError) as err:
        store.rename_design(record.id, bad)
    assert str(err.value).endswith(".")
    assert store.get_design(record.id).name == "ok"


def test_clean_name_collapses_spaces():
    assert clean_name("  my   first  net ") == "my first net"


def test_duplicate_copies_the_json_under_a_new_name(store):
    record = store.create_design("Net", '{"a": 1}')
    copy = store.duplicate_design(record.id)
    assert copy.id != record.id
    assert copy.name == "Net copy"
    assert copy.json == '{"a": 1}'
    with pytest.raises(KeyError):
        store.duplicate_design(4242)


def test_list_is_most_recently_changed_first(store):
    a = store.create_design("a", "{}")
    b = store.create_design("b", "{}")
    store.save_design(a.id, '{"changed": true}')
    assert [d.id for d in store.list_designs()][:2] == [a.id, b.id]


def test_delete_removes_the_design(store):
    record = store.create_design("gone", "{}")
    assert store.delete_design(record.id)
    assert store.get_design(record.id) is None


def test_settings_round_trip_and_overwrite(store):
    assert store.get_setting("last", "none") == "none"
    store.set_setting("last", "1")
    store.set_setting("last", "2")
    assert store.get_setting("last") == "2"


def test_reopening_keeps_the_data(tmp_path):
    path = tmp_path / "nc.sqlite"
    Store(path).create_design("kept", "{}")
    assert [d.name for d in Store(path).list_designs()] == ["kept"]


def test_a_save_from_a_stale_copy_is_refused_and_writes_nothing(store):
    from builder.store import DesignConflict

    record = store.create_design("net", '{"v": 0}')
    assert record.version == 1
    first = store.save_design(record.id, '{"v": "tab A"}', expected_version=1)
    assert first == 2
    with pytest.raises(DesignConflict) as caught:  # tab B still holds version 1
        store.save_design(record.id, '{"v": "tab B"}', expected_version=1)
    assert caught.value.version == 2
    assert store.get_design(record.id).json == '{"v": "tab A"}'
    assert store.save_design(record.id, '{"v": "tab B, reloaded"}', expected_version=2) == 3
    assert store.save_design(record.id, '{"v": "unchecked"}') == 4


# -- the workspace folder the store lives in ---------------------------------------


def test_the_flag_beats_the_environment_which_beats_the_default(tmp_path):
    env = {workspace.ENV_VAR: str(tmp_path / "env")}
    assert workspace.resolve(str(tmp_path / "flag"), env) == (tmp_path / "flag").resolve()
    assert workspace.resolve(None, env) == (tmp_path / "env").resolve()
    assert workspace.resolve(None, {}).name == workspace.DEFAULT_DIRNAME


@pytest.mark.parametrize("argv, expected", [
    (["--workspace", "/tmp/x"], "/tmp/x"),
    (["--other", "--workspace=/tmp/y"], "/tmp/y"),
    (["--other"], None),
])
def test_the_workspace_flag_is_read_from_the_command_line(argv, expected):
    assert workspace.flag_value(argv) == expected


@pytest.mark.parametrize("argv", [["--workspace"], ["--workspace="], ["--workspace", "--x"]])
def test_a_workspace_flag_without_a_folder_says_how_to_use_it(argv):
    with pytest.raises(workspace.WorkspaceError, match="needs a folder"):
        workspace.flag_value(argv)


def test_ensure_creates_the_folder_and_refuses_a_file(tmp_path):
    made = workspace.ensure(tmp_path / "a" / "b")
    assert made.is_dir()
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(workspace.WorkspaceError, match="is a file, not a folder"):
        workspace.ensure(afile)
    assert workspace.store_path(made).name == workspace.STORE_FILENAME


def test_control_characters_leave_names_typed_or_loaded():
    from builder.store import clean_name

    assert clean_name("my\x00 net\n\t2") == "my net 2"
