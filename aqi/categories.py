"""AQI categories (bands), colours and health messages of each method, as data.

The single source of truth for names, colours and advice: dashboards and reports import
these tuples, e.g. ``from aqi.categories import VN_CATEGORIES``.

VN names, RGB and the messages follow Decision 1459/QĐ-TCMT Table 1 (bands and colours),
Table 4 (health effects) and Table 5 (recommendations); the English names are translations
(the decision has none). US names and colours follow EPA-454/B-24-002 Tables 1–2; the US
advice is a short paraphrase of the TAD's cautionary statements for particle pollution, and
the Vietnamese US names are translations.

References
----------
.. [1] Quyết định 1459/QĐ-TCMT, Bảng 1, 4, 5.
.. [2] US EPA, EPA-454/B-24-002 (May 2024), Tables 1, 2, 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from aqi.breakpoints import check_method


@dataclass(frozen=True)
class Category:
    """One AQI band.

    Attributes
    ----------
    index : int
        Position 0…5 (the value of the ``category`` arrays of :class:`aqi.AqiResult`).
    name_vi, name_en : str
        Vietnamese and English names.
    lower, upper : int
        Integer AQI range, inclusive (the last band also holds US values above 500).
    rgb : tuple of int
        Colour, 0–255 per channel.
    hex : str
        The same colour, ``#RRGGBB``.
    health_effect_vi, health_effect_en : str
        Effect on health (1459 Table 4 / EPA meaning).
    advice_vi, advice_en : str
        Recommendation for the general public.
    advice_sensitive_vi, advice_sensitive_en : str
        Recommendation for sensitive groups (elderly, children, people with respiratory
        or cardiovascular disease).
    """

    index: int
    name_vi: str
    name_en: str
    lower: int
    upper: int
    rgb: tuple[int, int, int]
    hex: str
    health_effect_vi: str
    health_effect_en: str
    advice_vi: str
    advice_en: str
    advice_sensitive_vi: str
    advice_sensitive_en: str


_BANDS: Final = ((0, 50), (51, 100), (101, 150), (151, 200), (201, 300), (301, 500))
_RGB: Final = ((0, 228, 0), (255, 255, 0), (255, 126, 0), (255, 0, 0), (143, 63, 151), (126, 0, 35))
_HEX: Final = ("#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#8F3F97", "#7E0023")

_OUTDOOR_FREELY_VI: Final = "Tự do thực hiện các hoạt động ngoài trời."
_OUTDOOR_FREELY_EN: Final = "Enjoy outdoor activities freely."
_MASK_VI: Final = "Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn."
_MASK_EN: Final = "If you must go out, wear a proper mask."

VN_CATEGORIES: Final[tuple[Category, ...]] = (
    Category(
        0, "Tốt", "Good", *_BANDS[0], _RGB[0], _HEX[0],
        "Chất lượng không khí tốt, không ảnh hưởng tới sức khỏe.",
        "Good air quality, no effect on health.",
        _OUTDOOR_FREELY_VI, _OUTDOOR_FREELY_EN, _OUTDOOR_FREELY_VI, _OUTDOOR_FREELY_EN,
    ),
    Category(
        1, "Trung bình", "Moderate", *_BANDS[1], _RGB[1], _HEX[1],
        "Chất lượng không khí ở mức chấp nhận được; người nhạy cảm có thể chịu "
        "những tác động nhất định tới sức khỏe.",
        "Acceptable air quality; sensitive people may feel some effects.",
        _OUTDOOR_FREELY_VI, _OUTDOOR_FREELY_EN,
        "Nên theo dõi các triệu chứng như ho hoặc khó thở, nhưng vẫn có thể hoạt động "
        "bên ngoài.",
        "Watch for symptoms such as coughing or shortness of breath; outdoor activity "
        "is still possible.",
    ),
    Category(
        2, "Kém", "Poor", *_BANDS[2], _RGB[2], _HEX[2],
        "Những người nhạy cảm gặp phải các vấn đề về sức khỏe, những người bình thường "
        "ít ảnh hưởng.",
        "Sensitive people experience health problems; others are little affected.",
        "Những người có triệu chứng đau mắt, ho hoặc đau họng nên cân nhắc giảm hoạt động "
        "ngoài trời; học sinh có thể hoạt động bên ngoài nhưng nên giảm tập thể dục kéo dài.",
        "People with sore eyes, a cough or a sore throat should consider reducing outdoor "
        "activity; pupils may be outside but should cut prolonged exercise.",
        "Nên giảm các hoạt động mạnh và giảm thời gian hoạt động ngoài trời; người mắc "
        "bệnh hen suyễn có thể cần sử dụng thuốc thường xuyên hơn.",
        "Reduce strenuous activity and time outdoors; people with asthma may need their "
        "medication more often.",
    ),
    Category(
        3, "Xấu", "Bad", *_BANDS[3], _RGB[3], _HEX[3],
        "Những người bình thường bắt đầu bị ảnh hưởng tới sức khỏe, nhóm người nhạy cảm có "
        "thể gặp những vấn đề sức khỏe nghiêm trọng hơn.",
        "Everyone begins to be affected; sensitive people may be affected more seriously.",
        "Mọi người nên giảm các hoạt động mạnh khi ở ngoài trời, tránh tập thể dục kéo dài "
        "và nghỉ ngơi nhiều hơn trong nhà.",
        "Everyone should reduce strenuous outdoor activity, avoid prolonged exercise and "
        "rest more indoors.",
        "Nên ở trong nhà và giảm hoạt động mạnh. " + _MASK_VI,
        "Stay indoors and reduce strenuous activity. " + _MASK_EN,
    ),
    Category(
        4, "Rất xấu", "Very bad", *_BANDS[4], _RGB[4], _HEX[4],
        "Cảnh báo sức khỏe: mọi người bị ảnh hưởng tới sức khỏe nghiêm trọng hơn.",
        "Health alert: everyone is more seriously affected.",
        "Mọi người hạn chế tối đa các hoạt động ngoài trời và chuyển các hoạt động vào "
        "trong nhà. " + _MASK_VI,
        "Everyone should minimise outdoor activity and move activities indoors. " + _MASK_EN,
        "Nên ở trong nhà và giảm hoạt động mạnh.",
        "Stay indoors and reduce strenuous activity.",
    ),
    Category(
        5, "Nguy hại", "Hazardous", *_BANDS[5], _RGB[5], _HEX[5],
        "Cảnh báo khẩn cấp về sức khỏe: toàn bộ dân số bị ảnh hưởng tới sức khỏe nghiêm "
        "trọng.",
        "Health emergency: the whole population is seriously affected.",
        "Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. " + _MASK_VI,
        "Everyone should stay indoors with doors and windows closed. " + _MASK_EN,
        "Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. " + _MASK_VI,
        "Everyone should stay indoors with doors and windows closed. " + _MASK_EN,
    ),
)  # fmt: skip
"""VN_AQI categories of Decision 1459/QĐ-TCMT ([1]_)."""

US_CATEGORIES: Final[tuple[Category, ...]] = (
    Category(
        0, "Tốt", "Good", *_BANDS[0], _RGB[0], _HEX[0],
        "Chất lượng không khí đạt yêu cầu, ít hoặc không có rủi ro.",
        "Air quality is satisfactory; little or no risk.",
        "Không cần biện pháp gì.", "None.", "Không cần biện pháp gì.", "None.",
    ),
    Category(
        1, "Trung bình", "Moderate", *_BANDS[1], _RGB[1], _HEX[1],
        "Chấp nhận được; một số người đặc biệt nhạy cảm có thể gặp rủi ro.",
        "Acceptable; some risk for people unusually sensitive to air pollution.",
        "Không cần biện pháp gì.", "None.",
        "Người đặc biệt nhạy cảm nên cân nhắc giảm gắng sức kéo dài hoặc nặng.",
        "Unusually sensitive people should consider reducing prolonged or heavy exertion.",
    ),
    Category(
        2, "Không tốt cho nhóm nhạy cảm", "Unhealthy for Sensitive Groups",
        *_BANDS[2], _RGB[2], _HEX[2],
        "Nhóm nhạy cảm có thể bị ảnh hưởng; công chúng ít bị ảnh hưởng.",
        "Members of sensitive groups may experience health effects.",
        "Không cần biện pháp gì.", "None.",
        "Nhóm nhạy cảm nên giảm gắng sức kéo dài hoặc nặng.",
        "Sensitive groups should reduce prolonged or heavy exertion.",
    ),
    Category(
        3, "Không tốt cho sức khỏe", "Unhealthy", *_BANDS[3], _RGB[3], _HEX[3],
        "Mọi người có thể bị ảnh hưởng; nhóm nhạy cảm bị ảnh hưởng nghiêm trọng hơn.",
        "Some of the general public may be affected; sensitive groups more seriously.",
        "Mọi người nên giảm gắng sức kéo dài hoặc nặng.",
        "Everyone should reduce prolonged or heavy exertion.",
        "Nhóm nhạy cảm nên tránh gắng sức kéo dài hoặc nặng.",
        "Sensitive groups should avoid prolonged or heavy exertion.",
    ),
    Category(
        4, "Rất không tốt cho sức khỏe", "Very Unhealthy", *_BANDS[4], _RGB[4], _HEX[4],
        "Cảnh báo sức khỏe: nguy cơ tăng với mọi người.",
        "Health alert: the risk of health effects is increased for everyone.",
        "Mọi người nên tránh gắng sức kéo dài hoặc nặng.",
        "Everyone should avoid prolonged or heavy exertion.",
        "Nhóm nhạy cảm nên tránh mọi hoạt động thể chất ngoài trời.",
        "Sensitive groups should avoid all physical activity outdoors.",
    ),
    Category(
        5, "Nguy hại", "Hazardous", *_BANDS[5], _RGB[5], _HEX[5],
        "Cảnh báo khẩn cấp: mọi người đều có khả năng bị ảnh hưởng.",
        "Health warning of emergency conditions: everyone is more likely to be affected.",
        "Mọi người nên tránh mọi hoạt động thể chất ngoài trời.",
        "Everyone should avoid all physical activity outdoors.",
        "Nhóm nhạy cảm nên ở trong nhà và giữ mức hoạt động thấp.",
        "Sensitive groups should remain indoors and keep activity levels low.",
    ),
)  # fmt: skip
"""US EPA AQI categories ([2]_); values above 500 ("beyond the AQI") are Hazardous."""

CATEGORIES: Final[dict[str, tuple[Category, ...]]] = {
    "vn_1459_2019": VN_CATEGORIES,
    "us_epa_2024": US_CATEGORIES,
    "us_epa_2012": US_CATEGORIES,
}
"""Categories per method id."""

# Integer AQI ≤ upper of band k and > upper of band k-1 → band k.
BAND_UPPERS: Final = np.array([upper for _, upper in _BANDS[:-1]], dtype=np.float64)


def categories(method: str) -> tuple[Category, ...]:
    """The categories of ``method`` (a method id of :data:`aqi.breakpoints.METHODS`)."""
    return CATEGORIES[check_method(method)]


def category_index(aqi: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Band of integer AQI values: 0 (0–50) … 5 (301–500 and above), -1 for NaN.

    Both methods share the same bands, so no method is needed.

    Parameters
    ----------
    aqi : array_like
        AQI values already rounded to integers (half-up).

    Returns
    -------
    numpy.ndarray of int8

    References
    ----------
    .. [1] Quyết định 1459/QĐ-TCMT, Bảng 1; EPA-454/B-24-002, Table 1.
    """
    values = np.asarray(aqi, dtype=np.float64)
    # band = number of band uppers below the value (what searchsorted gives), counted
    # with one comparison per upper: a binary search per value is several times slower.
    band = np.zeros(values.shape, dtype=np.int8)
    for upper in BAND_UPPERS:
        band += values > upper
    band -= np.isnan(values)  # NaN compares False everywhere: 0 - 1 = -1
    return band


def category_of(aqi: float, method: str) -> Category | None:
    """The :class:`Category` of one integer AQI value (None for NaN)."""
    band = int(category_index(np.array([aqi]))[0])
    return None if band < 0 else categories(method)[band]
