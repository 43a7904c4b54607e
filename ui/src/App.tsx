import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import { App as AntApp, Button, ConfigProvider, Layout, Menu, Space, Spin, Typography } from 'antd';
import { NoAccess, NotFound } from './components/NoAccess';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import { get, onUnauthorized, post, setCsrf, type Department, type Me } from './api';
import { getLang, setLang, t, useLang } from './i18n';
import { navigate, useRoute } from './router';
import { resetNames } from './names';
import { SessionContext, homeOf, type Session } from './session';
import { LoginPage } from './pages/Login';
import { TasksPage } from './pages/Tasks';
import { CasesPage } from './pages/Cases';
import { CaseDetailPage } from './pages/CaseDetail';
import { SupervisionsPage } from './pages/Supervisions';
import { ItemsPage } from './pages/Items';
import { CalendarPage } from './pages/Calendar';
import { UsersPage } from './pages/Users';
import { RosterPage } from './pages/Roster';
import { RatingsPage, RatingImportPage } from './pages/Ratings';
import { ProjectsPage } from './pages/Projects';
import { MobileReportPage } from './pages/MobileReport';

// Split bundles: the modeler and the form editor only for admins, ECharts only for the dashboard.
const DesignerPage = lazy(() => import('./pages/Designer'));
const DashboardPage = lazy(() => import('./pages/Dashboard'));
const FormsPage = lazy(() => import('./pages/Forms'));
const ProjectDetailPage = lazy(() => import('./pages/ProjectDetail'));
const ConsolePage = lazy(() => import('./pages/Console'));

const SESSION_HINT = 'duban.session';

const NAV: { key: string; label: Parameters<typeof t>[0]; roles: string[] }[] = [
  { key: 'tasks', label: 'nav.tasks', roles: ['clerk'] },
  { key: 'supervisions', label: 'nav.supervisions', roles: ['inspector', 'leader', 'admin'] },
  { key: 'dashboard', label: 'nav.dashboard', roles: ['leader', 'admin', 'inspector'] },
  { key: 'cases', label: 'nav.cases', roles: ['clerk', 'inspector', 'leader', 'admin'] },
  { key: 'ratings', label: 'nav.ratings', roles: ['clerk', 'inspector', 'leader', 'admin'] },
  { key: 'projects', label: 'nav.projects', roles: ['clerk', 'inspector', 'leader', 'admin'] },
  { key: 'designer', label: 'nav.designer', roles: ['admin'] },
  { key: 'forms', label: 'nav.forms', roles: ['admin'] },
  { key: 'items', label: 'nav.items', roles: ['admin'] },
  { key: 'calendar', label: 'nav.calendar', roles: ['admin'] },
  { key: 'users', label: 'nav.users', roles: ['admin'] },
  { key: 'roster', label: 'nav.roster', roles: ['admin', 'inspector', 'leader'] },
  { key: 'console', label: 'nav.console', roles: ['admin'] },
];

/** Who may open each page: the menu shows only these, and typing another page's address shows "no access". */
function mayOpen(page: string, roles: string[]): boolean | null {
  const entry = NAV.find((n) => n.key === page);
  if (!entry) return null;
  return entry.roles.some((r) => roles.includes(r));
}

export function App() {
  const lang = useLang();
  return (
    <ConfigProvider locale={lang === 'zh' ? zhCN : enUS} theme={{ token: { colorPrimary: '#b7202e', borderRadius: 4 } }}>
      <AntApp>
        <Shell />
      </AntApp>
    </ConfigProvider>
  );
}

function Shell() {
  const [me, setMe] = useState<Me | null>(null);
  const [departments, setDepartments] = useState<Department[]>([]);
  // Only ask the server who we are when this browser logged in before: no 401 noise on a first visit.
  const [checking, setChecking] = useState(() => localStorage.getItem(SESSION_HINT) === '1');
  const route = useRoute();

  const signedIn = useCallback(async (user: Me) => {
    if (user.csrfToken) setCsrf(user.csrfToken);
    resetNames();
    localStorage.setItem(SESSION_HINT, '1');
    setDepartments(await get<Department[]>('/api/departments'));
    setMe(user);
  }, []);

  const logout = useCallback(() => {
    post('/api/auth/logout').catch(() => undefined);
    resetNames();
    localStorage.removeItem(SESSION_HINT);
    setMe(null);
    navigate('/login');
  }, []);

  useEffect(() => onUnauthorized(() => {
    localStorage.removeItem(SESSION_HINT);
    setMe(null);
  }), []);

  useEffect(() => {
    if (!checking) return;
    get<Me>('/api/auth/me').then(signedIn).catch(() => localStorage.removeItem(SESSION_HINT)).finally(() => setChecking(false));
  }, [checking, signedIn]);

  const session = useMemo<Session | null>(() => (me ? { me, departments, logout } : null), [me, departments, logout]);

  // 监督一点通: the phone link works without an account.
  if (route.path[0] === 'm' && route.path[1]) return <MobileReportPage token={route.path[1]} />;
  if (checking) return <div className="center"><Spin /></div>;
  if (!session) {
    return <LoginPage onLogin={async (u) => {
      await signedIn(u);
      navigate(homeOf(u));
    }} />;
  }
  const page = route.path[0] ?? '';
  if (!page || page === 'login') return <Redirect to={homeOf(session.me)} />;
  const items = NAV.filter((n) => n.roles.some((r) => session.me.roles.includes(r)));
  return (
    <SessionContext.Provider value={session}>
      <Layout className="shell">
        <Layout.Header className="header">
          <a className="brand" href={`#${homeOf(session.me)}`}>
            <span className="brand-mark">督</span>
            <span className="brand-text">{t('app.title')}<small>{t('app.subtitle')}</small></span>
          </a>
          <Menu
            className="nav"
            theme="dark"
            mode="horizontal"
            selectedKeys={[page]}
            items={items.map((n) => ({ key: n.key, label: <a href={`#/${n.key}`} data-testid={`nav-${n.key}`}>{t(n.label)}</a> }))}
          />
          <Space className="header-right" size="small">
            <Typography.Text className="who" data-testid="whoami">{session.me.displayName}</Typography.Text>
            <Button size="small" ghost data-testid="lang-switch" onClick={() => setLang(getLang() === 'zh' ? 'en' : 'zh')}>{t('lang.switch')}</Button>
            <Button size="small" ghost data-testid="logout" onClick={logout}>{t('nav.logout')}</Button>
          </Space>
        </Layout.Header>
        <Layout.Content className="content">
          <Suspense fallback={<div className="center"><Spin /></div>}>
            {mayOpen(page, session.me.roles) === false ? <NoAccess kind="page" /> : <Page page={page} route={route.path} />}
          </Suspense>
        </Layout.Content>
      </Layout>
    </SessionContext.Provider>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to), [to]);
  return null;
}

function Page({ page, route }: { page: string; route: string[] }) {
  switch (page) {
    case 'tasks': return <TasksPage />;
    case 'cases': return route[1] ? <CaseDetailPage key={route[1]} id={route[1]} /> : <CasesPage />;
    case 'supervisions': return <SupervisionsPage />;
    case 'ratings': return route[1] === 'import' ? <RatingImportPage /> : <RatingsPage />;
    case 'dashboard': return <DashboardPage />;
    case 'designer': return <DesignerPage definitionId={route[1]} />;
    case 'forms': return <FormsPage key={route[1] ?? ''} formKey={route[1]} />;
    case 'items': return <ItemsPage />;
    case 'calendar': return <CalendarPage />;
    case 'users': return <UsersPage />;
    case 'roster': return <RosterPage />;
    case 'projects': return route[1] ? <ProjectDetailPage key={route[1]} id={route[1]} /> : <ProjectsPage />;
    case 'console': return <ConsolePage tab={route[1]} id={route[2]} />;
    default: return <NotFound />;
  }
}
