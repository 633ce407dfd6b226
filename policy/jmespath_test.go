package policy

import (
	"testing"
)

func TestPolicyJmesPath(t *testing.T) {
	doc := `{"a": {"b": {"c": [1, 2, 3]}}, "foo": [{"bar": 1, "baz": "x"}, {"bar": 2, "baz": "y"}, {"bar": 3}],
	  "obj": {"k1": {"v": 1}, "k2": {"v": 2}}, "nested": [[1, 2], [3, [4]], 5], "s": "Hello", "empty": [],
	  "n": null, "t": true, "num": 2.5, "people": [{"name": "b", "age": 30}, {"name": "a", "age": 20}]}`
	data, err := parseJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ q, want string }{
		{"a.b.c", "[1,2,3]"},
		{"a.b.c[0]", "1"},
		{"a.b.c[-1]", "3"},
		{"a.b.c[5]", "null"},
		{"a.b.c[1:]", "[2,3]"},
		{"a.b.c[::-1]", "[3,2,1]"},
		{"a.b.c[:2]", "[1,2]"},
		{"foo[*].bar", "[1,2,3]"},
		{"foo[*].baz", `["x","y"]`},
		{"foo[?bar > `1`].bar", "[2,3]"},
		{"foo[?baz == 'y'] | [0].bar", "2"},
		{"foo[?baz == 'y'].bar | @[0]", "2"},
		{"obj.*.v", "[1,2]"},
		{"nested[]", "[1,2,3,[4],5]"},
		{"nested[][]", "[1,2,3,4,5]"},
		{"length(foo)", "3"},
		{"length(s)", "5"},
		{"length(@) == `1` && t", "false"},
		{"foo[?bar == `1`] | length(@) == `1` && @[0].baz", `"x"`},
		{"foo[0].{B: bar, Z: baz}", `{"B":1,"Z":"x"}`},
		{"[s, t]", `["Hello",true]`},
		{"missing || s", `"Hello"`},
		{"t && s", `"Hello"`},
		{"!t", "false"},
		{"!empty", "true"},
		{"n != `null`", "false"},
		{"num", "2.5"},
		{"`\"lit\"`", `"lit"`},
		{"'raw \\' quote'", `"raw ' quote"`},
		{"\"s\"", `"Hello"`},
		{"contains(foo[*].baz, 'y')", "true"},
		{"starts_with(s, 'He')", "true"},
		{"ends_with(s, 'lo')", "true"},
		{"equals_ignore_case(s, 'HELLO')", "true"},
		{"keys(obj)", `["k1","k2"]`},
		{"values(obj)[*].v", "[1,2]"},
		{"sort(foo[*].bar)", "[1,2,3]"},
		{"sort_by(people, &age)[*].name", `["a","b"]`},
		{"max_by(people, &age).name", `"b"`},
		{"min_by(people, &age).name", `"a"`},
		{"max(a.b.c)", "3"},
		{"min(a.b.c)", "1"},
		{"sum(a.b.c)", "6"},
		{"avg(a.b.c)", "2"},
		{"abs(`-3`)", "3"},
		{"ceil(num)", "3"},
		{"floor(num)", "2"},
		{"join(',', foo[*].baz)", `"x,y"`},
		{"map(&bar, foo)", "[1,2,3]"},
		{"merge(obj.k1, `{\"w\": 2}`)", `{"v":1,"w":2}`},
		{"not_null(n, missing, s)", `"Hello"`},
		{"reverse(s)", `"olleH"`},
		{"reverse(a.b.c)", "[3,2,1]"},
		{"to_array(s)", `["Hello"]`},
		{"to_number('42')", "42"},
		{"to_string(a.b.c)", `"[1,2,3]"`},
		{"type(obj)", `"object"`},
		{"foo[?bar < `3`] | [?baz == 'x'].bar", "[1]"},
		{"(foo[*].bar)[0]", "1"},
		{"foo[*].bar | [0]", "1"},
		{"*.c", "[]"},
		{"a.*", `[{"c":[1,2,3]}]`},
		{"s.x", "null"},
	} {
		q, err := compileJmes(tc.q)
		if err != nil {
			t.Errorf("%s: compile: %v", tc.q, err)
			continue
		}
		got, err := searchJmes(q, data, &jrun{steps: maxWork, bytes: maxBytes})
		if err != nil {
			t.Errorf("%s: %v", tc.q, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s = %s, want %s", tc.q, got, tc.want)
		}
	}
	for _, q := range []string{"", "a.", "foo[?bar", "foo[1:2:0]", "nosuch(a)", "length(a, b)", "a = b", "[1,", "{a b}", "`{`x", "'open", "\"open", "a..b", "#"} {
		if _, err := compileJmes(q); err == nil {
			t.Errorf("%q compiled", q)
		}
	}
	for _, q := range []string{"length(`1`)", "abs('x')", "sort(foo)", "keys(s)"} {
		c, err := compileJmes(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if _, err := searchJmes(c, data, &jrun{steps: maxWork, bytes: maxBytes}); err == nil {
			t.Errorf("%s: no run-time error", q)
		}
	}
}
