"""Run denoisebench's conformance kit on this plugin: one pytest test per check.

Test ids read ``test_conformance[denoiser:template_nlmeans:no_input_mutation]``. To accept a known failure,
add ``conformance_expected_failures = {"check_name": "why"}`` to the class (reported as xfail).
"""

from denoisebench_template.plugin import NLMeans

from denoisebench.testing import parametrize_with_checks


@parametrize_with_checks([NLMeans])
def test_conformance(subject, check):
    check(subject)


def test_registered_through_the_entry_point(fresh_plugins):
    assert fresh_plugins.denoisers.get("template_nlmeans") is NLMeans
