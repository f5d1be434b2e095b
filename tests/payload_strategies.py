"""Hypothesis strategies for hostile payloads, shared by the decoder and service tests."""

from __future__ import annotations

import json

from hypothesis import strategies as st

# Keys of all three payload formats and a few parameter names, so generated documents
# reach deep into the decoders instead of failing at the first lookup.
PAYLOAD_KEYS = ["station", "ts", "values", "units", "status", "bn", "bt", "n", "v", "u", "t",
                "pm25", "no2", "co", "x"]  # fmt: skip

json_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(PAYLOAD_KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
"""Any JSON value, NaN and Infinity included."""

garbage_payloads = (
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | json_documents.map(lambda doc: json.dumps(doc, allow_nan=True).encode())
)
"""Bytes, text and JSON documents, as a hostile or broken client might publish them."""
