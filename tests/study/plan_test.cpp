// Study plans: the grid's configurations and evaluation settings, task pairs, and validation.
#include "study/plan.h"

#include <gtest/gtest.h>

#include "data/protocol.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

const data::Protocol& protocol() {
  static const data::Protocol loaded = data::load_protocol(testing::shared_data_dir());
  return loaded;
}

Plan table1_plan() {
  Plan plan;
  plan.models = {"/models/Qwen1.5-1.8B", "demo"};
  plan.mixtures = {"zh", "zh,es"};
  plan.targets = {"en", "it"};
  plan.tasks = {parse_task_pair("snli"), parse_task_pair("snli:emotion")};
  plan.labels = {data::AnswerType::english, data::AnswerType::same_language};
  plan.shots = {-1, 0};
  return plan;
}

TEST(Plan, OneAdapterPerModelMixtureTargetAndTuningTask) {
  const std::vector<Configuration> configurations = plan_configurations(table1_plan(), protocol());
  ASSERT_EQ(configurations.size(), 2u * 2u * 2u);  // snli and snli:emotion share the snli adapter
  EXPECT_EQ(configurations[0].id, "Qwen1.5-1.8B.zh_to_en.snli");
  EXPECT_EQ(configurations[1].id, "Qwen1.5-1.8B.zh-es_to_en.snli");
  EXPECT_EQ(configurations[1].label, "zh/es => en");
  EXPECT_EQ(configurations[3].id, "Qwen1.5-1.8B.zh-es_to_it.snli");
  EXPECT_EQ(configurations[4].model_id, "demo");
  EXPECT_EQ(configurations[3].sources, (std::vector<std::string>{"zh", "es"}));
}

TEST(Plan, EvaluationSettingsCrossTasksAnswerTypesAndShots) {
  const std::vector<EvaluationSetting> settings = evaluation_settings(table1_plan(), "snli");
  ASSERT_EQ(settings.size(), 2u * 2u * 2u);
  EXPECT_EQ(settings[0].id, "snli.english.default-shots");
  EXPECT_EQ(settings[1].id, "snli.english.0-shots");
  EXPECT_EQ(settings[2].id, "snli.same-language.default-shots");
  EXPECT_EQ(settings[4].id, "emotion.english.default-shots");
  EXPECT_EQ(settings[4].task, "emotion");
  EXPECT_EQ(all_evaluation_settings(table1_plan()).size(), 8u);
  EXPECT_TRUE(evaluation_settings(table1_plan(), "paws").empty());
}

TEST(Plan, TaskPairsAndJsonRoundTrip) {
  EXPECT_EQ(parse_task_pair("snli").eval, "snli");
  EXPECT_EQ(parse_task_pair("snli:all").eval, "all");
  for (const char* bad : {":emotion", "snli:", "a:b:c", "all"})
    EXPECT_NE(testing::error_of([&] { parse_task_pair(bad); }).find("TUNE:EVAL"), std::string::npos) << bad;
  const Plan plan = table1_plan();
  const io::Json json = plan_to_json(plan);
  EXPECT_EQ(json["tasks"], io::Json({"snli", "snli:emotion"}));
  EXPECT_EQ(json["shots"], io::Json({"default", 0}));
  const Plan back = plan_from_json(json, "plan.json", Plan{});
  EXPECT_EQ(plan_to_json(back), json);
}

TEST(Plan, PlanFilesAreValidatedWithTheFileNamed) {
  const Plan defaults = table1_plan();
  EXPECT_EQ(plan_from_json(io::Json{{"targets", {"it"}}}, "p.json", defaults).targets, std::vector<std::string>{"it"});
  EXPECT_EQ(plan_from_json(io::Json{{"targets", {"it"}}}, "p.json", defaults).mixtures, defaults.mixtures);
  EXPECT_NE(testing::error_of([] { plan_from_json(io::Json{{"mixtures", {"zh"}}}, "p.json", Plan{}); })
                .find("p.json: unknown key \"mixtures\""),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { plan_from_json(io::Json{{"shots", {-2}}}, "p.json", Plan{}); }).find("\"shots\""),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { plan_from_json(io::Json{{"labels", {"klingon"}}}, "p.json", Plan{}); })
                .find("p.json: unknown answer type"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { plan_from_json(io::Json{{"targets", "it"}}, "p.json", Plan{}); })
                .find("non-empty array"),
            std::string::npos);
}

TEST(Plan, ValidationRefusesWhatCannotRunBeforeAnyWork) {
  validate_plan(table1_plan(), protocol());
  Plan plan = table1_plan();
  plan.mixtures = {"zh,it"};
  EXPECT_NE(testing::error_of([&] { validate_plan(plan, protocol()); }).find("mixture zh,it contains its target it"),
            std::string::npos);
  plan = table1_plan();
  plan.models = {"/a/model", "/b/model"};
  EXPECT_NE(testing::error_of([&] { validate_plan(plan, protocol()); }).find("two models are named model"),
            std::string::npos);
  plan = table1_plan();
  plan.targets.clear();
  EXPECT_NE(testing::error_of([&] { validate_plan(plan, protocol()); }).find("no targets"), std::string::npos);
  plan = table1_plan();
  plan.tasks = {parse_task_pair("snli:xnli")};
  EXPECT_FALSE(testing::error_of([&] { validate_plan(plan, protocol()); }).empty());
}

}  // namespace
}  // namespace qtalign::study
