"""Tool lists (both TaskBench flavours) and planning over them (``bind_tools``)."""

from __future__ import annotations

import json

import pytest

from hugginggpt.errors import ConfigError
from hugginggpt.eval.tools import ToolList, ToolSpec, bind_tools, load_tools, tool_task_type
from hugginggpt.tasks import default_registry


def write(tmp_path, nodes, folder="data_toy"):
    d = tmp_path / folder
    d.mkdir()
    (d / "tool_desc.json").write_text(json.dumps({"nodes": nodes}))
    return d / "tool_desc.json"


MULTIMEDIA_LIKE = [
    {"id": "URL Extractor", "desc": "Extracts URL from text", "input-type": ["text"], "output-type": ["url"]},
    {"id": "Image Search", "desc": "Finds images.", "input-type": ["text"], "output-type": ["Image"]},
    {"id": "Image Stitcher", "desc": "Stitches two images.", "input-type": ["image", "image"],
     "output-type": ["image"]},
    {"id": "Text Paraphraser", "desc": "Rewrites a text.", "input-type": ["text"], "output-type": ["text"]},
    {"id": "Text Simplifier", "desc": "Simplifies a text.", "input-type": ["text"], "output-type": ["text"]},
    {"id": "Audio-to-Text", "desc": "Transcribes speech.", "input-type": ["audio"], "output-type": ["text"]},
]


def test_load_typed_tools(tmp_path):
    tools = load_tools(write(tmp_path, MULTIMEDIA_LIKE))
    assert tools.domain == "toy" and len(tools) == 6 and tools.typed
    assert tools.index("URL Extractor") == 1 and tools.index("Nope") == 0
    assert tools.output_type_of("Image Search") == "Image"  # as in the file: TaskBench uses it verbatim
    assert tools.output_type_of("Nope") == "other"
    assert tools.get("URL Extractor").media_outputs == ("text",)  # url is text to our planners
    assert tools.match("image stitcher") == "Image Stitcher"
    assert tools.get("Image Stitcher").to_json() == MULTIMEDIA_LIKE[2]


def test_load_dailylife_parameters(tmp_path):
    nodes = [{"id": "get_weather", "desc": "Weather of a city on a day",
              "parameters": [{"name": "location", "type": "string", "desc": "the city"},
                             {"name": "date", "type": "date", "desc": "the day"}]},
             {"id": "take_note", "desc": "Take a note", "parameters": ["content"]}]
    tools = load_tools(write(tmp_path, nodes, "data_dailylifeapis"))
    assert tools.domain == "dailylifeapis" and not tools.typed
    weather = tools.get("get_weather")
    assert [p.name for p in weather.parameters] == ["location", "date"]
    assert weather.output_type == "none"
    assert weather.to_json()["parameters"][1] == {"name": "date", "type": "date", "desc": "the day"}
    tt = tool_task_type(weather)
    assert [(s.name, s.type) for s in tt.inputs] == [("location", "text"), ("date", "text")]
    binding = bind_tools(tools)
    assert binding.registry.names == ["get_weather", "take_note"]


@pytest.mark.parametrize("content", ["", "{}", '{"nodes": []}', "[1, 2]", "not json",
                                     '{"nodes": [{"id": "A"}, {"id": "A"}]}'])
def test_bad_tool_files(tmp_path, content):
    p = tmp_path / "tool_desc.json"
    p.write_text(content)
    with pytest.raises(ConfigError):
        load_tools(p)
    with pytest.raises(ConfigError):
        load_tools(tmp_path / "missing.json")


def test_tool_task_type_slots_from_types():
    tt = tool_task_type(ToolSpec("Image Stitcher", "", ("image", "image"), ("image",)))
    assert [(s.name, s.type) for s in tt.inputs] == [("image", "image"), ("image2", "image")]
    tt = tool_task_type(ToolSpec("URL Extractor", "", ("text",), ("url",)))
    assert tt.outputs == ["text"]
    tt = tool_task_type(ToolSpec("Image Downloader", "", ("url",), ("image",)))
    assert [(s.name, s.type) for s in tt.inputs] == [("url", "text")]


def test_bind_registry_names(tmp_path):
    tools = load_tools(write(tmp_path, MULTIMEDIA_LIKE))
    b = bind_tools(tools)
    # Tools with a registry equivalent are offered under our task names, the rest under their own.
    assert b.reused == {"Text Paraphraser": "text2text-generation", "Audio-to-Text": "automatic-speech-recognition"}
    assert b.registry.names == ["URL Extractor", "Image Search", "Image Stitcher", "text2text-generation",
                                "Text Simplifier", "automatic-speech-recognition"]
    # Our task keeps its slots; the alias list is narrowed to the tool it stands for.
    assert b.registry.get("text2text-generation").inputs == default_registry().get("text2text-generation").inputs
    assert b.registry.canonical("Text Simplifier") == "Text Simplifier"
    assert b.tool_name("text2text-generation") == "Text Paraphraser"
    assert b.tool_name("automatic-speech-recognition") == "Audio-to-Text"
    assert b.tool_name("Image Stitcher") == "Image Stitcher"
    # names the binding does not offer: through our aliases when that is unambiguous, else kept
    assert b.tool_name("Speech to Text") == "Audio-to-Text"
    assert b.tool_name("image stitcher") == "Image Stitcher"
    assert b.tool_name("canny-control") == "canny-control"


def test_bind_native_names(tmp_path):
    tools = load_tools(write(tmp_path, MULTIMEDIA_LIKE))
    b = bind_tools(tools, names="native")
    assert b.registry.names == [t.name for t in tools]
    assert b.reused == {}
    assert all(b.tool_name(n) == n for n in tools.names)
    with pytest.raises(ConfigError):
        bind_tools(tools, names="other")  # type: ignore[arg-type]


def test_bind_whole_huggingface_like_list():
    names = ["Image-to-Image", "Image Editing", "Text-to-Speech", "Summarization"]
    tools = ToolList([ToolSpec(n, "", ("text",), ("text",)) for n in names])
    b = bind_tools(tools)
    # Image-to-Image comes first in image-to-image's alias list, so Image Editing stays a tool of its own.
    assert b.reused["Image-to-Image"] == "image-to-image" and "Image Editing" not in b.reused
    assert [b.tool_name(n) for n in b.registry.names] == names
