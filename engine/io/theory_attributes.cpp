#include "engine/io/theory_attributes.hpp"

#include "engine/io/h5/attribute.hpp"
#include "engine/theory/flow.hpp"
#include "models/gaussian_integrals.hpp"

#include <string_view>

namespace plateau {

namespace {

// The attributes' names (analysis/SCHEMA.md, "Root attributes").
constexpr std::string_view method_name = "theory_method";
constexpr std::string_view rtol_name = "theory_rtol";
constexpr std::string_view atol_name = "theory_atol";
constexpr std::string_view init_name = "theory_init";
constexpr std::string_view r0_name = "theory_r0";
constexpr std::string_view asymmetry_name = "theory_asymmetry";
constexpr std::string_view init_from_name = "theory_init_from";
constexpr std::string_view init_average_name = "theory_init_average";
constexpr std::string_view predictions_name = "theory_predictions";

} // namespace

TheoryMethod theory_method(const ModelParams& model) noexcept {
    switch (flow_method(model)) {
    case FlowMethod::joint:
        return TheoryMethod::joint;
    case FlowMethod::tensor:
        return TheoryMethod::tensor;
    case FlowMethod::integrals:
        break;
    }
    return integrals::has_closed_form(model.student.g.kind) ? TheoryMethod::closed_form
                                                            : TheoryMethod::quadrature;
}

std::string theory_method_text(const CampaignSpec& spec) {
    std::string all;
    bool same = true;
    for (const GridPoint& point : spec.points) {
        const std::string_view one = name(theory_method(point.params.model));
        same = same && name(theory_method(spec.points.front().params.model)) == one;
        all += (all.empty() ? "" : " ") + std::string(one);
    }
    return same && !spec.points.empty()
               ? std::string(name(theory_method(spec.points.front().params.model)))
               : all;
}

void write_theory_attributes(const h5::Object& object, const TheoryAttributes& a) {
    h5::set_attribute(object, method_name, std::string_view(a.method));
    h5::set_attribute(object, rtol_name, a.rtol);
    h5::set_attribute(object, atol_name, a.atol);
    h5::set_attribute(object, init_name, std::string_view(a.init));
    if (a.r0)
        h5::set_attribute(object, r0_name, *a.r0);
    if (a.asymmetry)
        h5::set_attribute(object, asymmetry_name, *a.asymmetry);
    if (a.init_from)
        h5::set_attribute(object, init_from_name, std::string_view(*a.init_from));
    if (a.init_average)
        h5::set_attribute(object, init_average_name,
                          std::string_view(*a.init_average ? "true" : "false"));
    if (a.predictions != PredictionMode::automatic)
        h5::set_attribute(object, predictions_name, name(a.predictions));
}

std::optional<TheoryAttributes> read_theory_attributes(const h5::Object& object) {
    auto method = h5::get_string_attribute(object, method_name);
    if (!method)
        return std::nullopt;
    TheoryAttributes a;
    a.method = std::move(*method);
    a.rtol = h5::get_double_attribute(object, rtol_name).value_or(0.0);
    a.atol = h5::get_double_attribute(object, atol_name).value_or(0.0);
    a.init = h5::get_string_attribute(object, init_name).value_or("");
    a.r0 = h5::get_double_attribute(object, r0_name);
    a.asymmetry = h5::get_double_attribute(object, asymmetry_name);
    a.init_from = h5::get_string_attribute(object, init_from_name);
    if (const auto average = h5::get_string_attribute(object, init_average_name))
        a.init_average = *average == "true";
    if (const auto predictions = h5::get_string_attribute(object, predictions_name))
        a.predictions = parse<PredictionMode>(*predictions).value_or(PredictionMode::automatic);
    return a;
}

} // namespace plateau
